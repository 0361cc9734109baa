import json

import numpy as np
import pytest
import yaml

from lightning_oneshot.spaces import Architecture, ArchitectureError

EDGES = ("edge_0_1", "edge_0_2", "edge_1_2")
OPS = ("none", "skip_connect", "conv_3x3")


def make(choices: dict) -> Architecture:
    return Architecture.from_dict(choices, EDGES, OPS)


def test_readable_form_round_trips_through_yaml_and_json():
    arch = make({"edge_0_1": "conv_3x3", "edge_0_2": "none", "edge_1_2": "skip_connect"})
    from_yaml = Architecture.from_dict(yaml.safe_load(yaml.safe_dump(arch.to_dict())), EDGES, OPS)
    from_json = Architecture.from_dict(json.loads(arch.to_json()), EDGES, OPS)
    assert from_yaml == arch
    assert from_json == arch


def test_matrix_has_one_row_per_edge_and_column_per_op():
    arch = make({"edge_0_1": "conv_3x3", "edge_0_2": "none", "edge_1_2": "skip_connect"})
    expected = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=bool)
    assert np.array_equal(arch.matrix, expected)


def test_hash_ignores_key_order():
    forward = make({"edge_0_1": "conv_3x3", "edge_0_2": "none", "edge_1_2": "skip_connect"})
    backward = make({"edge_1_2": "skip_connect", "edge_0_2": "none", "edge_0_1": "conv_3x3"})
    assert forward.hash == backward.hash


def test_hash_is_stable_across_processes():
    # A fixed value: the hash must not depend on Python's per-process hash seed.
    arch = make({"edge_0_1": "conv_3x3", "edge_0_2": "none", "edge_1_2": "skip_connect"})
    assert arch.hash == "a8d6a74c342125af"


def test_hash_differs_between_architectures():
    first = make({"edge_0_1": "conv_3x3", "edge_0_2": "none", "edge_1_2": "skip_connect"})
    second = make({"edge_0_1": "conv_3x3", "edge_0_2": "none", "edge_1_2": "conv_3x3"})
    assert first.hash != second.hash


def test_wrong_shape_is_rejected():
    with pytest.raises(ArchitectureError, match=r"shape \(2, 3\), expected \(3, 3\)"):
        Architecture(EDGES, OPS, np.zeros((2, 3)))


def test_non_binary_values_are_rejected():
    matrix = np.zeros((3, 3))
    matrix[0, 1] = 0.5
    with pytest.raises(ArchitectureError, match="binary"):
        Architecture(EDGES, OPS, matrix)


def test_unknown_and_missing_edges_are_named():
    with pytest.raises(ArchitectureError) as error:
        make({"edge_0_1": "none", "edge_0_2": "none", "edge_9_9": "none"})
    message = str(error.value)
    assert "unknown edges: 'edge_9_9'" in message
    assert "missing edges: 'edge_1_2'" in message
    assert "Allowed edges: 'edge_0_1', 'edge_0_2', 'edge_1_2'" in message


def test_unknown_operation_lists_allowed_ops():
    with pytest.raises(ArchitectureError) as error:
        make({"edge_0_1": "conv_9x9", "edge_0_2": "none", "edge_1_2": "none"})
    assert "'conv_9x9'" in str(error.value)
    assert "'none', 'skip_connect', 'conv_3x3'" in str(error.value)


def test_non_mapping_is_rejected():
    with pytest.raises(ArchitectureError, match="mapping"):
        Architecture.from_dict(["conv_3x3"], EDGES, OPS)
