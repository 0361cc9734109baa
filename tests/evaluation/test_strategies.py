"""Search strategies on a synthetic score, so that each test runs in milliseconds."""

import numpy as np
import pytest

from lightning_oneshot.evaluation.cost import Constraints, CostModel
from lightning_oneshot.evaluation.strategies import (
    EvolutionarySearch,
    ExhaustiveSearch,
    RandomSearch,
    SearchError,
    check_exhaustive_size,
)
from lightning_oneshot.spaces import NB201Space

OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3")


@pytest.fixture
def space():
    # 4^6 = 4096 architectures.
    return NB201Space(in_channels=1, num_classes=10, width=4, num_stages=1, ops=OPS)


def synthetic_score(arch) -> float:
    """A smooth score with one best architecture: each edge prefers a different operation."""
    preferred = {edge: OPS[(index * 3 + 1) % len(OPS)] for index, edge in enumerate(arch.edges)}
    return sum(arch.active_ops(edge)[0] == op for edge, op in preferred.items()) / len(arch.edges)


class RecordingEvaluate:
    def __init__(self, space, constraints):
        self.space, self.constraints = space, constraints
        self.proposed: list[str] = []

    def __call__(self, batch):
        for arch in batch:
            self.space.validate(arch)
            assert self.constraints.allows(arch), f"{arch.hash} breaks the constraints"
            self.proposed.append(arch.hash)
        return [synthetic_score(arch) for arch in batch]


def _constraints(space, max_params=None):
    return Constraints(CostModel(space, (1, 8, 8)), max_params=max_params)


def test_random_scores_distinct_architectures(space):
    evaluate = RecordingEvaluate(space, _constraints(space))
    RandomSearch().run(space, evaluate, evaluate.constraints, num_samples=50, seed=0)
    assert len(evaluate.proposed) == 50
    assert len(set(evaluate.proposed)) == 50


def test_exhaustive_scores_every_architecture():
    small = NB201Space(in_channels=1, num_classes=10, width=4, num_stages=1, num_nodes=3, ops=OPS[:3])
    evaluate = RecordingEvaluate(small, _constraints(small))
    ExhaustiveSearch().run(small, evaluate, evaluate.constraints, num_samples=1, seed=0)
    assert sorted(evaluate.proposed) == sorted(arch.hash for arch in small.enumerate())


def test_exhaustive_rejects_a_large_space(space):
    with pytest.raises(SearchError, match="4,096 architectures, more than evaluation.strategy.max_architectures=100"):
        check_exhaustive_size(space, 100)


@pytest.mark.parametrize("seed", range(3))
def test_evolution_proposes_valid_allowed_distinct_architectures(space, seed):
    cost_model = CostModel(space, (1, 8, 8))
    median_params = int(np.median([cost_model(space.sample(np.random.default_rng(i))).params for i in range(40)]))
    constraints = _constraints(space, max_params=median_params)
    evaluate = RecordingEvaluate(space, constraints)
    EvolutionarySearch(population_size=10, num_parents=3, num_mutations=5, num_crossovers=5, num_generations=10).run(
        space, evaluate, constraints, num_samples=60, seed=seed
    )
    assert len(evaluate.proposed) == 60
    assert len(set(evaluate.proposed)) == len(evaluate.proposed)


def _best_found(strategy, space, seed, budget) -> bool:
    evaluate = RecordingEvaluate(space, _constraints(space))
    scores = {}

    def record(batch):
        values = evaluate(batch)
        scores.update({arch.hash: value for arch, value in zip(batch, values)})
        return values

    strategy.run(space, record, evaluate.constraints, num_samples=budget, seed=seed)
    return max(scores.values()) == 1.0


def test_evolution_finds_the_best_more_often_than_random(space):
    budget, seeds = 120, range(20)
    evolution = EvolutionarySearch(population_size=20, num_parents=5, num_mutations=10, num_crossovers=10, mutation_prob=0.2)
    evolution_hits = sum(_best_found(evolution, space, seed, budget) for seed in seeds)
    random_hits = sum(_best_found(RandomSearch(), space, seed, budget) for seed in seeds)
    # Random search finds the single best of 4096 with probability 120 / 4096 per run (about 0.6 of 20 runs).
    assert random_hits <= 3
    assert evolution_hits >= 10
    assert evolution_hits >= random_hits + 7


def test_evolution_rejects_bad_settings():
    with pytest.raises(SearchError, match="evaluation.strategy.population_size must be an integer >= 1, got 0"):
        EvolutionarySearch(population_size=0)
