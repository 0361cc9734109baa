"""Invariants that every search space must keep, run on a tiny configuration of each."""

import numpy as np
import pytest
import torch

from lightning_oneshot.spaces.registry import build_space
from lightning_oneshot.supernet import MixedEdge, inherit_weights

# Small settings per space under conf/search_space, so that each case runs in well under a second.
TINY_SPACES = {
    "nb201": {"width": 4, "num_stages": 2},
    "chain": {"stem_width": 4, "stage_widths": [4, 8], "stage_depths": [2, 2], "head_width": 8, "stage_strides": [1, 2]},
    "darts": {"width": 4, "num_cells": 3, "num_nodes": 2, "stem_multiplier": 1},
    "hierarchical": {"width": 4, "num_stages": 2, "num_motifs": 2, "motif_nodes": 3, "level3_nodes": 3},
    "fabric": {"width": 4, "num_layers": 4, "num_scales": 3},
}


@pytest.fixture(params=sorted(TINY_SPACES))
def space(request):
    return build_space(request.param, in_channels=1, num_classes=10, **TINY_SPACES[request.param])


def _inactive_parameter_ids(supernet) -> set[int]:
    inactive = set()
    for module in supernet.modules():
        if isinstance(module, MixedEdge):
            for name, op in module.candidates.items():
                if name not in module.active_names:
                    inactive.update(id(p) for p in op.parameters())
    return inactive


def test_samples_are_valid(space):
    rng = np.random.default_rng(0)
    for _ in range(30):
        space.validate(space.sample(rng))


def test_readable_form_round_trips(space):
    arch = space.sample(np.random.default_rng(1))
    assert space.architecture(arch.to_dict()) == arch


def test_mutation_and_crossover_give_valid_architectures(space):
    rng = np.random.default_rng(2)
    first, second = space.sample(rng), space.sample(rng)
    mutated = space.mutate(first, rng)
    assert mutated != first
    space.validate(mutated)
    space.validate(space.crossover(first, second, rng))


@pytest.mark.parametrize("seed", range(3))
def test_standalone_matches_supernet(space, seed):
    rng = np.random.default_rng(seed)
    images = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    supernet = space.build_supernet().train()
    for _ in range(3):
        supernet.set_mask(space.sample(rng))
        supernet(images)
    arch = space.sample(rng)
    supernet.set_mask(arch)
    supernet.eval()

    standalone = space.build_standalone(arch)
    inherit_weights(standalone, supernet)
    standalone.eval()
    with torch.no_grad():
        assert torch.equal(standalone(images), supernet(images))

    active = sum(p.numel() for p in supernet.parameters() if id(p) not in _inactive_parameter_ids(supernet))
    assert sum(p.numel() for p in standalone.parameters()) == active


def test_droppath_mask_trains(space):
    supernet = space.build_supernet().train()
    supernet.set_mask(space.droppath_mask(np.random.default_rng(0), 0.5))
    loss = supernet(torch.randn(4, 1, 8, 8)).sum()
    loss.backward()
    assert any(p.grad is not None for p in supernet.parameters())
