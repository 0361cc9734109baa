"""The layer-wise chain space: candidates per layer, size and rejection of invalid input."""

import numpy as np
import pytest
import torch

from lightning_oneshot.spaces import ArchitectureError, ChainSpace
from lightning_oneshot.supernet import inherit_weights

OPS = ("mbconv_3x3_e1", "mbconv_5x5_e3", "skip_connect")

# A chain of 4 layers: stage 0 keeps the stem's shape, stage 1 halves the resolution and doubles the width.
TINY = {"stem_width": 4, "stage_widths": [4, 8], "stage_depths": [2, 2], "stage_strides": [1, 2], "head_width": 8}



@pytest.fixture
def space() -> ChainSpace:
    return ChainSpace(in_channels=1, num_classes=10, ops=OPS, **TINY)


def test_edges_are_consecutive_layers(space):
    assert space.edges == ("edge_0_1", "edge_1_2", "edge_2_3", "edge_3_4")


def test_skip_is_no_candidate_where_shape_changes(space):
    assert space.edge_candidates("edge_0_1") == OPS
    assert space.edge_candidates("edge_2_3") == ("mbconv_3x3_e1", "mbconv_5x5_e3")
    assert space.edge_candidates("edge_3_4") == OPS


def test_first_layer_drops_skip_when_stem_width_differs():
    space = ChainSpace(in_channels=1, num_classes=10, ops=OPS, **{**TINY, "stem_width": 2})
    assert "skip_connect" not in space.edge_candidates("edge_0_1")


def test_size_matches_enumeration(space):
    architectures = list(space.enumerate())
    assert space.size() == 3 * 3 * 2 * 3
    assert len(architectures) == space.size()
    assert len({arch.hash for arch in architectures}) == space.size()


def test_default_size():
    space = ChainSpace(in_channels=3, num_classes=10)
    assert space.size() == 7**6 * 6**2


def test_skip_on_shape_changing_layer_is_rejected(space):
    choices = {edge: "skip_connect" for edge in space.edges}
    with pytest.raises(ArchitectureError, match="Edge 'edge_2_3': operation 'skip_connect' is not allowed here"):
        space.architecture(choices)


def test_unused_layer_is_rejected(space):
    choices = {edge: "mbconv_3x3_e1" for edge in space.edges}
    choices["edge_1_2"] = None
    with pytest.raises(ArchitectureError, match="Edge 'edge_1_2' has 0 active operations"):
        space.architecture(choices)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("conv_3x3", "Unknown chain operation 'conv_3x3'"),
        ("mbconv_4x4_e3", "Invalid chain operation 'mbconv_4x4_e3'"),
        ("mbconv_3x5_e3", "Invalid chain operation 'mbconv_3x5_e3'"),
        ("mbconv_3x3_e0", "Invalid chain operation 'mbconv_3x3_e0'"),
    ],
)
def test_bad_operation_in_config_is_rejected(name, message):
    with pytest.raises(ValueError, match=f"search_space.ops: {message}"):
        ChainSpace(in_channels=1, num_classes=10, ops=("skip_connect", name), **TINY)


def test_only_skip_is_rejected():
    with pytest.raises(ValueError, match="no candidate on the shape-changing layers \\['edge_2_3'\\]"):
        ChainSpace(in_channels=1, num_classes=10, ops=("skip_connect",), **TINY)


def test_mismatched_stage_lists_are_rejected():
    with pytest.raises(ValueError, match="got lengths 2, 3 and 2"):
        ChainSpace(in_channels=1, num_classes=10, **{**TINY, "stage_depths": [1, 1, 1]})


def test_bad_stride_is_rejected():
    with pytest.raises(ValueError, match="stage_strides must contain only 1 or 2, got \\[1, 3\\]"):
        ChainSpace(in_channels=1, num_classes=10, **{**TINY, "stage_strides": [1, 3]})


def test_skip_layer_is_identity(space):
    arch = space.architecture({"edge_0_1": "skip_connect", "edge_1_2": "skip_connect", "edge_2_3": "mbconv_3x3_e1", "edge_3_4": "skip_connect"})
    standalone = space.build_standalone(arch)
    layer = standalone.layers[0]
    x = torch.randn(2, 4, 8, 8)
    assert layer.op is None
    assert torch.equal(layer(x), x)


def test_standalone_matches_supernet_on_cifar_sized_input():
    space = ChainSpace(in_channels=3, num_classes=10, ops=OPS, **TINY)
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    arch = space.sample(np.random.default_rng(0))
    supernet = space.build_supernet()
    supernet.set_mask(arch)
    supernet(images)
    supernet.eval()
    standalone = space.build_standalone(arch).eval()
    inherit_weights(standalone, supernet)
    with torch.no_grad():
        assert torch.equal(standalone(images), supernet(images))
