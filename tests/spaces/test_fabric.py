"""The fabric search space: path counting, uniform sampling, path validation and DropPath."""

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from lightning_oneshot.spaces import ArchitectureError, FabricSpace
from lightning_oneshot.supernet import inherit_weights


@pytest.fixture
def space() -> FabricSpace:
    return FabricSpace(in_channels=1, num_classes=10, width=4, num_layers=5, num_scales=3)


def _brute_force_paths(space: FabricSpace) -> list[tuple[int, ...]]:
    return [
        scales
        for scales in itertools.product(range(space.num_scales), repeat=space.num_layers)
        if scales[0] == 0
        and scales[-1] == space.output_scale
        and all(abs(b - a) <= 1 for a, b in zip(scales, scales[1:]))
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"num_layers": 5, "num_scales": 3},
        {"num_layers": 6, "num_scales": 4},
        {"num_layers": 6, "num_scales": 4, "output_scale": 0},
        {"num_layers": 4, "num_scales": 1},
    ],
)
def test_size_matches_brute_force_count(settings):
    space = FabricSpace(in_channels=1, num_classes=10, **settings)
    paths = _brute_force_paths(space)
    assert space.size() == len(paths)
    assert [tuple(space.to_path(arch)) for arch in space.enumerate()] == sorted(paths)


def test_default_config_has_106_paths():
    assert FabricSpace(in_channels=1, num_classes=10).size() == 106


def test_every_edge_lies_on_a_path(space):
    used = {edge for arch in space.enumerate() for edge, op in arch.to_dict().items() if op is not None}
    assert used == set(space.edges)


def test_uniform_sampling_is_uniform_over_paths(space):
    rng = np.random.default_rng(0)
    index = {tuple(space.to_path(arch)): row for row, arch in enumerate(space.enumerate())}
    draws = 500 * len(index)
    counts = np.zeros(len(index))
    for _ in range(draws):
        counts[index[tuple(space._sample_path(rng))]] += 1

    statistic, p_value = stats.chisquare(counts)
    # The seed is fixed, so the test is deterministic. Here the statistic is 11.6 with 7 degrees of freedom
    # (p = 0.12), while a sampler that picks each step's direction uniformly gives 712 (p about 1e-149).
    assert p_value > 1e-3, (statistic, p_value)
    assert np.abs(counts / draws * len(index) - 1).max() < 0.2


def test_readable_form_leaves_off_path_edges_empty(space):
    arch = space.from_path([0, 1, 1, 2, 2])
    readable = arch.to_dict()
    assert readable["layer1/scale0_to_scale1"] == "conv_3x3_stride2"
    assert readable["layer2/scale1_to_scale1"] == "conv_3x3"
    assert readable["layer1/scale0_to_scale0"] is None
    assert sum(op is not None for op in readable.values()) == space.num_layers - 1


def test_disconnected_path_is_rejected(space):
    readable = space.from_path([0, 1, 1, 2, 2]).to_dict()
    readable["layer3/scale1_to_scale2"] = None
    readable["layer3/scale0_to_scale1"] = "conv_3x3_stride2"
    with pytest.raises(ArchitectureError, match="broken at layer 3: edge 'layer3/scale0_to_scale1' starts at scale 0"):
        space.architecture(readable)


def test_missing_layer_edge_is_rejected(space):
    readable = space.from_path([0, 1, 1, 2, 2]).to_dict()
    readable["layer2/scale1_to_scale1"] = None
    with pytest.raises(ArchitectureError, match="broken at layer 2: it has 0 active edges"):
        space.architecture(readable)


def test_branching_path_is_rejected(space):
    readable = space.from_path([0, 1, 1, 2, 2]).to_dict()
    readable["layer2/scale1_to_scale0"] = "upsample_conv_3x3"
    with pytest.raises(ArchitectureError, match="broken at layer 2: it has 2 active edges"):
        space.architecture(readable)


def test_wrong_operation_on_edge_is_rejected(space):
    readable = space.from_path([0, 1, 1, 2, 2]).to_dict()
    readable["layer2/scale1_to_scale1"] = "conv_3x3_stride2"
    with pytest.raises(ArchitectureError, match="Edge 'layer2/scale1_to_scale1'.*Allowed: 'conv_3x3' or null"):
        space.architecture(readable)


def test_invalid_scale_list_is_rejected(space):
    with pytest.raises(ArchitectureError, match=r"Scales \[0, 2, 2, 2, 2\] are not a fabric path"):
        space.from_path([0, 2, 2, 2, 2])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"num_layers": 3, "num_scales": 4}, "output_scale=3 cannot be reached in num_layers=3"),
        ({"num_scales": 3, "output_scale": 3}, r"output_scale must be an integer in \[0, 2\]"),
        ({"num_layers": 1}, "num_layers must be an integer >= 2, got 1"),
    ],
)
def test_invalid_config_is_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        FabricSpace(in_channels=1, num_classes=10, **settings)


def _active_edges(space: FabricSpace, mask: np.ndarray) -> set[str]:
    return {edge for edge, row in zip(space.edges, mask) if row.any()}


@pytest.mark.parametrize("drop_prob", [0.0, 0.5, 0.9, 1.0])
def test_droppath_mask_is_a_union_of_paths(space, drop_prob):
    rng = np.random.default_rng(0)
    path_edges = [set(space.path_edges(space.to_path(arch))) for arch in space.enumerate()]
    for _ in range(50):
        active = _active_edges(space, space.droppath_mask(rng, drop_prob))
        covered = set().union(*[edges for edges in path_edges if edges <= active])
        assert active
        assert covered == active


def test_droppath_without_drops_is_the_whole_fabric(space):
    mask = space.droppath_mask(np.random.default_rng(0), 0.0)
    assert np.array_equal(mask, space.full_mask())


def test_whole_fabric_trains(space):
    supernet = space.build_supernet().train()
    supernet.set_mask(space.full_mask())
    loss = supernet(torch.randn(4, 1, 8, 8)).logsumexp(dim=1).mean()
    loss.backward()
    assert all(parameter.grad is not None for parameter in supernet.parameters())


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 7, 5)])
def test_whole_fabric_runs_on_any_input_size(shape):
    space = FabricSpace(in_channels=shape[0], num_classes=10, width=4, num_layers=6, num_scales=4, channel_growth=2)
    supernet = space.build_supernet()
    supernet.set_mask(space.full_mask())
    assert supernet(torch.randn(2, *shape)).shape == (2, 10)


def test_overlapping_paths_share_parameters(space):
    supernet = space.build_supernet()
    first, second = space.from_path([0, 1, 1, 2, 2]), space.from_path([0, 1, 2, 2, 2])
    standalones = []
    for arch in (first, second):
        supernet.set_mask(arch)
        standalone = space.build_standalone(arch)
        inherit_weights(standalone, supernet)
        standalones.append(standalone)
    shared = "edges.layer1/scale0_to_scale1.1.weight"
    assert torch.equal(standalones[0].state_dict()[shared], standalones[1].state_dict()[shared])
    assert len(supernet.network.edges) == len(space.edges)


def test_crossover_keeps_parent_segments(space):
    rng = np.random.default_rng(3)
    first, second = space.from_path([0, 1, 1, 2, 2]), space.from_path([0, 0, 1, 1, 2])
    children = {tuple(space.to_path(space.crossover(first, second, rng))) for _ in range(40)}
    assert children == {(0, 1, 1, 2, 2), (0, 0, 1, 2, 2), (0, 1, 1, 1, 2), (0, 0, 1, 1, 2)}


def test_mutation_moves_one_inner_node(space):
    rng = np.random.default_rng(4)
    arch = space.from_path([0, 1, 1, 2, 2])
    for _ in range(20):
        mutated = space.to_path(space.mutate(arch, rng, prob=0.0))
        assert sum(a != b for a, b in zip(mutated, [0, 1, 1, 2, 2])) == 1


# End-to-end runs of train.py with a tiny fabric.
