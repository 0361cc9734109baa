"""The DARTS space: two inputs per node, uniform samples, size, DropPath and rejection of invalid cells."""

from collections import Counter

import numpy as np
import pytest
import torch
import yaml
from scipy.stats import chisquare

from lightning_oneshot.spaces import ArchitectureError, DartsSpace
from lightning_oneshot.supernet import inherit_weights

TINY = {"width": 4, "num_cells": 3, "num_nodes": 2, "stem_multiplier": 1}



@pytest.fixture
def space() -> DartsSpace:
    return DartsSpace(in_channels=1, num_classes=10, ops=("skip_connect", "sep_conv_3x3"), **TINY)


def _choices(space: DartsSpace, used: dict[str, str]) -> dict:
    return {edge: used.get(edge) for edge in space.edges}


# Node 2 takes nodes 0 and 1, node 3 takes nodes 0 and 2, in both cell types.
VALID = {
    "normal/edge_0_2": "skip_connect",
    "normal/edge_1_2": "sep_conv_3x3",
    "normal/edge_0_3": "sep_conv_3x3",
    "normal/edge_2_3": "skip_connect",
    "reduction/edge_0_2": "sep_conv_3x3",
    "reduction/edge_1_2": "sep_conv_3x3",
    "reduction/edge_1_3": "skip_connect",
    "reduction/edge_2_3": "sep_conv_3x3",
}


def test_edges_cover_both_cell_types(space):
    assert space.edges == (
        "normal/edge_0_2", "normal/edge_1_2", "normal/edge_0_3", "normal/edge_1_3", "normal/edge_2_3",
        "reduction/edge_0_2", "reduction/edge_1_2", "reduction/edge_0_3", "reduction/edge_1_3", "reduction/edge_2_3",
    )


def test_default_size_matches_formula():
    space = DartsSpace(in_channels=3, num_classes=10)
    assert space.size() == (1 * 3 * 6 * 10 * 7**8) ** 2


def test_size_matches_enumeration(space):
    architectures = list(space.enumerate())
    assert space.size() == (1 * 2**2 * 3 * 2**2) ** 2
    assert len(architectures) == space.size()
    assert len({arch.hash for arch in architectures}) == space.size()


def test_unused_edges_are_null_in_readable_form(space):
    arch = space.architecture(_choices(space, VALID))
    readable = arch.to_dict()
    assert readable["normal/edge_1_3"] is None
    assert readable["reduction/edge_0_3"] is None
    assert space.architecture(yaml.safe_load(yaml.safe_dump(readable))) == arch


def test_genotype_lists_two_inputs_per_node(space):
    genotype = space.genotype(space.architecture(_choices(space, VALID)))
    assert genotype["normal", 3] == ((0, "sep_conv_3x3"), (2, "skip_connect"))
    assert genotype["reduction", 3] == ((1, "skip_connect"), (2, "sep_conv_3x3"))


def test_node_with_one_input_is_rejected(space):
    choices = _choices(space, {**VALID, "normal/edge_0_3": None})
    with pytest.raises(ArchitectureError, match="Node 3 of the normal cell has 1 inputs \\(normal/edge_2_3\\)"):
        space.architecture(choices)


def test_node_with_three_inputs_is_rejected(space):
    choices = _choices(space, {**VALID, "reduction/edge_0_3": "skip_connect"})
    with pytest.raises(ArchitectureError, match="Node 3 of the reduction cell has 3 inputs"):
        space.architecture(choices)


def test_node_without_inputs_is_rejected(space):
    choices = _choices(space, {**VALID, "normal/edge_0_2": None, "normal/edge_1_2": None})
    with pytest.raises(ArchitectureError, match="Node 2 of the normal cell has 0 inputs; every intermediate node"):
        space.architecture(choices)


def test_two_operations_on_one_edge_are_rejected(space):
    choices = _choices(space, {**VALID, "normal/edge_0_2": ["skip_connect", "sep_conv_3x3"]})
    with pytest.raises(ArchitectureError, match="Edge 'normal/edge_0_2' has 2 active operations"):
        space.architecture(choices)


def test_none_in_readable_form_is_rejected(space):
    choices = _choices(space, {**VALID, "normal/edge_1_3": "none"})
    with pytest.raises(ArchitectureError, match="Edge 'normal/edge_1_3': 'none' is not an operation.*Write null"):
        space.architecture(choices)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ops": ("none", "skip_connect")}, "'none' is not a candidate in the darts space"),
        ({"ops": ("conv_3x3",)}, "unknown operations \\['conv_3x3'\\]"),
        ({"ops": ()}, "non-empty list"),
        ({"width": 5}, "width must be an even integer >= 2, got 5"),
        ({"num_cells": 2}, "num_cells must be an integer >= 3, got 2"),
        ({"num_nodes": 0}, "num_nodes must be an integer >= 1, got 0"),
    ],
)
def test_bad_config_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        DartsSpace(in_channels=1, num_classes=10, **{**TINY, **overrides})


def test_samples_are_uniform_per_node():
    space = DartsSpace(in_channels=1, num_classes=10, num_nodes=3, ops=("skip_connect", "sep_conv_3x3", "max_pool_3x3"))
    rng = np.random.default_rng(0)
    genotypes = [space.genotype(space.sample(rng)) for _ in range(1500)]

    # Node 4 chooses one of the C(4, 2) = 6 pairs of nodes 0..3.
    pairs = Counter(tuple(source for source, _ in genotype["reduction", 4]) for genotype in genotypes)
    assert len(pairs) == 6
    assert chisquare(list(pairs.values())).pvalue > 0.001

    ops = Counter(op for genotype in genotypes for _, op in genotype["normal", 3])
    assert len(ops) == 3
    assert chisquare(list(ops.values())).pvalue > 0.001

    first_inputs = Counter(genotype["normal", 2][0][1] for genotype in genotypes)
    assert chisquare(list(first_inputs.values())).pvalue > 0.001


def test_samples_have_two_distinct_inputs_per_node():
    space = DartsSpace(in_channels=1, num_classes=10)
    rng = np.random.default_rng(1)
    for _ in range(100):
        for (first, _), (second, _) in space.genotype(space.sample(rng)).values():
            assert first < second


@pytest.mark.parametrize("drop_prob", [0.0, 0.7, 1.0])
def test_droppath_keeps_every_node_fed(space, drop_prob):
    rng = np.random.default_rng(0)
    for _ in range(50):
        mask = space.droppath_mask(rng, drop_prob)
        for cell_type, target in space.nodes:
            rows = [space.edges.index(edge) for edge in space._node_edges(cell_type, target)]
            assert mask[rows].any(), (cell_type, target)


def test_droppath_with_everything_dropped_keeps_one_per_node(space):
    mask = space.droppath_mask(np.random.default_rng(0), 1.0)
    assert mask.sum() == len(space.nodes)


def test_full_mask_activates_every_operation(space):
    assert space.full_mask().all()


def test_full_mask_scales_node_sums():
    space = DartsSpace(in_channels=1, num_classes=10, ops=("skip_connect", "avg_pool_3x3"), **TINY)
    supernet = space.build_supernet().eval()
    supernet.set_mask(space.full_mask())
    cell = supernet.network.cells[0]
    s0 = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    states = [cell.preprocess0(s0), cell.preprocess1(s0)]
    pool = torch.nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)
    for target in (2, 3):
        # Each of the `target` earlier nodes feeds skip_connect and avg_pool_3x3: 2 * target outputs.
        total = sum(state + pool(state) for state in states[:target])
        states.append(total * (2.0 / (2 * target)))
    with torch.no_grad():
        torch.testing.assert_close(cell(s0, s0), torch.cat(states[2:], dim=1))


def test_mutation_gives_new_valid_architecture(space):
    rng = np.random.default_rng(3)
    for _ in range(50):
        arch = space.sample(rng)
        mutated = space.mutate(arch, rng)
        assert mutated != arch
        space.validate(mutated)


def test_crossover_takes_each_node_from_a_parent(space):
    rng = np.random.default_rng(4)
    first, second = space.sample(rng), space.sample(rng)
    child = space.genotype(space.crossover(first, second, rng))
    parents = space.genotype(first), space.genotype(second)
    for node, inputs in child.items():
        assert inputs in (parents[0][node], parents[1][node])


def test_standalone_cell_has_only_the_chosen_edges(space):
    standalone = space.build_standalone(space.architecture(_choices(space, VALID)))
    assert sorted(standalone.cells[0].edges) == ["edge_0_2", "edge_0_3", "edge_1_2", "edge_2_3"]
    assert sorted(standalone.cells[1].edges) == ["edge_0_2", "edge_1_2", "edge_1_3", "edge_2_3"]


def test_standalone_matches_supernet_on_cifar_sized_input():
    space = DartsSpace(in_channels=3, num_classes=10, **TINY)
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
