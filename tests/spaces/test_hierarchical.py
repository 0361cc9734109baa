"""The hierarchical search space: motif rows, level-3 rows and networks built from motifs."""

import numpy as np
import pytest
import torch
from torch import nn

from lightning_oneshot.spaces import ArchitectureError, HierarchicalSpace
from lightning_oneshot.spaces.cell import Cell
from lightning_oneshot.spaces.hierarchical import DepthwiseConvBN, SeparableConvBN
from lightning_oneshot.spaces.ops import ReLUConvBN
from lightning_oneshot.supernet import MixedEdge


@pytest.fixture
def space() -> HierarchicalSpace:
    return HierarchicalSpace(
        in_channels=1, num_classes=10, width=4, num_stages=1, num_motifs=3, motif_nodes=3, level3_nodes=3
    )


def _readable(space: HierarchicalSpace, level3: dict[str, str], primitive: str = "conv_1x1") -> dict[str, str]:
    readable = {edge: primitive for edge in space.edges if not edge.startswith("level3/")}
    readable.update({f"level3/{edge}": motif for edge, motif in level3.items()})
    return readable


def test_default_space_size_formula():
    space = HierarchicalSpace(in_channels=1, num_classes=10)
    # 6 motifs x 6 edges choose among 7 primitives; 10 level-3 edges choose among 6 motifs or none.
    assert len(space.edges) == 6 * 6 + 10
    assert space.size() == 7 ** (6 * 6) * 7**10


def test_enumeration_matches_size():
    space = HierarchicalSpace(
        in_channels=1, num_classes=10, num_motifs=2, motif_nodes=2, level3_nodes=3, primitives=("none", "conv_1x1")
    )
    architectures = list(space.enumerate())
    assert len(architectures) == space.size() == 2**2 * 3**3
    assert len({arch.hash for arch in architectures}) == len(architectures)


def test_edges_are_restricted_to_their_level(space):
    assert space.edge_candidates("motif1/edge_0_2") == space.primitives
    assert space.edge_candidates("level3/edge_0_2") == ("none", "motif0", "motif1", "motif2")


def test_primitive_on_level3_edge_is_rejected(space):
    readable = _readable(space, {"edge_0_1": "motif0", "edge_0_2": "motif1", "edge_1_2": "conv_1x1"})
    with pytest.raises(ArchitectureError, match="Edge 'level3/edge_1_2': operation 'conv_1x1' is not allowed here"):
        space.architecture(readable)


def test_motif_on_motif_edge_is_rejected(space):
    readable = _readable(space, {"edge_0_1": "motif0", "edge_0_2": "motif1", "edge_1_2": "motif2"})
    readable["motif2/edge_0_1"] = "motif0"
    with pytest.raises(ArchitectureError, match="Edge 'motif2/edge_0_1': operation 'motif0' is not allowed here"):
        space.architecture(readable)


def test_level3_none_can_be_disabled():
    space = HierarchicalSpace(in_channels=1, num_classes=10, num_motifs=2, level3_none=False, primitives=("conv_1x1",))
    assert space.edge_candidates("level3/edge_0_1") == ("motif0", "motif1")
    assert "none" not in space.ops


def test_unknown_primitive_in_config_is_rejected():
    with pytest.raises(ValueError, match=r"unknown operations \['conv_5x5'\]. Allowed operations: none, conv_1x1"):
        HierarchicalSpace(in_channels=1, num_classes=10, primitives=("none", "conv_5x5"))


def test_standalone_is_built_from_selected_motifs(space):
    readable = _readable(space, {"edge_0_1": "motif2", "edge_0_2": "none", "edge_1_2": "motif0"})
    readable.update({"motif2/edge_0_1": "dw_conv_3x3", "motif2/edge_0_2": "none", "motif2/edge_1_2": "avg_pool_3x3"})
    readable.update({"motif0/edge_0_1": "sep_conv_3x3", "motif0/edge_0_2": "skip_connect", "motif0/edge_1_2": "none"})
    network = space.build_standalone(space.architecture(readable))
    level3 = network.cells[0]

    assert set(level3.edges) == {"edge_0_1", "edge_1_2"}
    motif2, motif0 = level3.edges["edge_0_1"], level3.edges["edge_1_2"]
    assert isinstance(motif2, Cell)
    assert isinstance(motif0, Cell)
    assert set(motif2.edges) == {"edge_0_1", "edge_1_2"}
    assert isinstance(motif2.edges["edge_0_1"], DepthwiseConvBN)
    assert isinstance(motif2.edges["edge_1_2"], nn.AvgPool2d)
    assert set(motif0.edges) == {"edge_0_1", "edge_0_2"}
    assert isinstance(motif0.edges["edge_0_1"], SeparableConvBN)
    assert isinstance(motif0.edges["edge_0_2"], nn.Identity)


def test_unselected_motif_does_not_change_the_network(space):
    readable = _readable(space, {"edge_0_1": "motif0", "edge_0_2": "motif0", "edge_1_2": "none"})
    changed = dict(readable, **{"motif1/edge_0_1": "sep_conv_3x3"})
    shapes = [
        {key: value.shape for key, value in space.build_standalone(space.architecture(data)).state_dict().items()}
        for data in (readable, changed)
    ]
    assert shapes[0] == shapes[1]


def test_repeated_motif_has_separate_weights(space):
    readable = _readable(space, {"edge_0_1": "motif0", "edge_0_2": "motif0", "edge_1_2": "none"})
    network = space.build_standalone(space.architecture(readable))
    first, second = network.cells[0].edges["edge_0_1"], network.cells[0].edges["edge_0_2"]
    assert first is not second
    assert isinstance(first.edges["edge_0_1"], ReLUConvBN)
    assert first.edges["edge_0_1"][1].weight is not second.edges["edge_0_1"][1].weight


def test_motif_row_switches_every_copy_of_the_motif(space):
    supernet = space.build_supernet()
    readable = _readable(space, {"edge_0_1": "motif0", "edge_0_2": "motif1", "edge_1_2": "none"})
    readable["motif1/edge_1_2"] = "max_pool_3x3"
    supernet.set_mask(space.architecture(readable))
    level3 = supernet.network.cells[0]
    # Every level-3 edge owns a copy of motif1, and the one motif row sets the edge in every copy.
    copies = [level3.edges[edge].candidates["motif1"].edges["edge_1_2"] for edge in space.level3_edges]
    assert len({id(copy) for copy in copies}) == len(space.level3_edges)
    assert all(isinstance(copy, MixedEdge) and copy.active_names == ("max_pool_3x3",) for copy in copies)


def test_supernet_runs_on_cifar_sized_input():
    space = HierarchicalSpace(in_channels=3, num_classes=10, width=4, num_motifs=2, motif_nodes=3, level3_nodes=3)
    supernet = space.build_supernet()
    supernet.set_mask(space.sample(np.random.default_rng(0)))
    assert supernet(torch.randn(2, 3, 32, 32)).shape == (2, 10)


# End-to-end runs of train.py with a tiny hierarchical space.
