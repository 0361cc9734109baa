
import numpy as np
import pytest
import torch

from lightning_oneshot.spaces import ArchitectureError, NB201Space
from lightning_oneshot.supernet import MixedEdge, inherit_weights


def test_default_space_has_nb201_shape():
    space = NB201Space(in_channels=3, num_classes=10)
    assert space.edges == ("edge_0_1", "edge_0_2", "edge_1_2", "edge_0_3", "edge_1_3", "edge_2_3")
    assert space.ops == ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")
    assert space.size() == 5**6


def test_enumeration_matches_size():
    space = NB201Space(in_channels=1, num_classes=10, num_nodes=3, ops=("none", "skip_connect", "conv_3x3"))
    architectures = list(space.enumerate())
    assert len(architectures) == space.size() == 3**3
    assert len({arch.hash for arch in architectures}) == len(architectures)


def test_samples_are_valid(tiny_space):
    rng = np.random.default_rng(0)
    for _ in range(50):
        tiny_space.validate(tiny_space.sample(rng))


def test_unknown_operation_in_config_is_rejected():
    with pytest.raises(ValueError, match="unknown operations \\['conv_9x9'\\]. Allowed operations: none, skip_connect"):
        NB201Space(in_channels=1, num_classes=10, ops=("none", "conv_9x9"))


def test_two_ops_on_one_edge_is_not_an_architecture(tiny_space):
    matrix = np.zeros((len(tiny_space.edges), len(tiny_space.ops)), dtype=bool)
    matrix[:, 1] = True
    matrix[0, 2] = True
    with pytest.raises(ArchitectureError, match="Edge 'edge_0_1' has 2 active operations"):
        tiny_space.architecture(matrix)


def _architectures(space: NB201Space) -> list:
    rng = np.random.default_rng(1)
    sampled = [space.sample(rng) for _ in range(5)]
    every_op_everywhere = [space.architecture({edge: op for edge in space.edges}) for op in space.ops]
    return sampled + every_op_everywhere


@pytest.mark.parametrize("index", range(10))
def test_standalone_matches_supernet_under_mask(tiny_space, images, index):
    arch = _architectures(tiny_space)[index]
    supernet = tiny_space.build_supernet()
    # Train-mode passes under other masks give every BatchNorm layer distinct running statistics.
    supernet.train()
    for other in _architectures(tiny_space):
        supernet.set_mask(other)
        supernet(images)
    supernet.set_mask(arch)
    supernet.eval()

    standalone = tiny_space.build_standalone(arch)
    inherit_weights(standalone, supernet)
    standalone.eval()

    with torch.no_grad():
        assert torch.equal(standalone(images), supernet(images))


def _active_parameter_count(supernet) -> int:
    inactive = set()
    for module in supernet.modules():
        if isinstance(module, MixedEdge):
            for name, op in module.candidates.items():
                if name not in module.active_names:
                    inactive.update(id(p) for p in op.parameters())
    return sum(p.numel() for p in supernet.parameters() if id(p) not in inactive)


@pytest.mark.parametrize("index", range(10))
def test_standalone_has_only_active_parameters(tiny_space, index):
    arch = _architectures(tiny_space)[index]
    supernet = tiny_space.build_supernet()
    supernet.set_mask(arch)
    standalone = tiny_space.build_standalone(arch)
    assert sum(p.numel() for p in standalone.parameters()) == _active_parameter_count(supernet)
    assert not any(isinstance(module, MixedEdge) for module in standalone.modules())


def test_standalone_drops_zero_edges(tiny_space):
    arch = tiny_space.architecture({edge: "none" if edge == "edge_0_1" else "conv_3x3" for edge in tiny_space.edges})
    standalone = tiny_space.build_standalone(arch)
    cell = standalone.cells[0]
    assert "edge_0_1" not in cell.edges
    assert "edge_0_2" in cell.edges
