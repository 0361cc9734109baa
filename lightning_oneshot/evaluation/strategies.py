"""Search strategies: which architectures the evaluation stage scores.

A strategy proposes architectures in batches and receives their scores from ``evaluate``, which scores only
architectures it has not seen (duplicates are looked up by hash) and shards each batch across DDP ranks.
Strategies draw from seeded generators and see the same scores on every rank, so all ranks propose the same
architectures.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from lightning_oneshot.evaluation.cost import Constraints
from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace

log = logging.getLogger(__name__)

Evaluate = Callable[[Sequence[Architecture]], list[float]]

# Give up looking for a new distinct, allowed architecture after this many draws per requested one. Reached
# only when the space is barely larger than the request or the constraints allow very few architectures.
_MAX_DRAWS_PER_SAMPLE = 1000


class SearchError(ValueError):
    """Raised when a strategy cannot run with the given space and settings."""


def random_architectures(
    space: SearchSpace, num_samples: int, seed: int, constraints: Constraints | None = None
) -> Iterator[Architecture]:
    """Yield ``num_samples`` distinct allowed architectures drawn uniformly, or every one if fewer exist.

    The sequence depends only on the space, ``seed`` and the constraints.
    """
    if num_samples < 1:
        raise SearchError(f"evaluation.num_samples must be >= 1, got {num_samples}.")
    allowed = constraints.allows if constraints is not None else (lambda arch: True)
    if space.size() <= num_samples:
        log.info("The space has %d architectures, not more than evaluation.num_samples=%d: scoring all.", space.size(), num_samples)
        yield from (arch for arch in space.enumerate() if allowed(arch))
        return

    rng = np.random.default_rng([seed, 2])
    seen: set[str] = set()
    for _ in range(num_samples * _MAX_DRAWS_PER_SAMPLE):
        arch = space.sample(rng)
        if arch.hash in seen or not allowed(arch):
            continue
        seen.add(arch.hash)
        yield arch
        if len(seen) == num_samples:
            return
    log.warning("Found only %d distinct allowed architectures after many draws; scoring those.", len(seen))


class SearchStrategy(ABC):
    """Proposes architectures to score; ``run`` returns when its budget is spent."""

    name = "strategy"

    @abstractmethod
    def run(self, space: SearchSpace, evaluate: Evaluate, constraints: Constraints, num_samples: int, seed: int) -> None:
        """Propose architectures through ``evaluate`` until ``num_samples`` distinct ones are scored."""


class RandomSearch(SearchStrategy):
    """``num_samples`` distinct architectures drawn uniformly within the constraints."""

    name = "random"

    def run(self, space: SearchSpace, evaluate: Evaluate, constraints: Constraints, num_samples: int, seed: int) -> None:
        evaluate(list(random_architectures(space, num_samples, seed, constraints)))


class ExhaustiveSearch(SearchStrategy):
    """Every architecture of the space within the constraints; ``num_samples`` is ignored.

    Stops with an error before scoring when the space has more than ``max_architectures`` architectures.
    """

    name = "exhaustive"

    def __init__(self, max_architectures: int = 100_000) -> None:
        self.max_architectures = max_architectures

    def run(self, space: SearchSpace, evaluate: Evaluate, constraints: Constraints, num_samples: int, seed: int) -> None:
        check_exhaustive_size(space, self.max_architectures)
        evaluate([arch for arch in space.enumerate() if constraints.allows(arch)])


def check_exhaustive_size(space: SearchSpace, max_architectures: int) -> None:
    size = space.size()
    if size > max_architectures:
        raise SearchError(
            f"evaluation=exhaustive: the {space.name!r} space has {size:,} architectures, more than "
            f"evaluation.strategy.max_architectures={max_architectures:,}. Use evaluation=random or evaluation=evolution, "
            f"or raise evaluation.strategy.max_architectures."
        )


class EvolutionarySearch(SearchStrategy):
    """Evolutionary search over the trained supernet, as in SPOS (Guo et al. 2019, "Single Path One-Shot
    Neural Architecture Search with Uniform Sampling").

    The first generation is ``population_size`` random architectures. Each later generation keeps the
    ``num_parents`` best scored so far as parents and adds ``num_mutations`` mutants (each edge resampled with
    ``mutation_prob``) and ``num_crossovers`` children of two parents. Candidates that are duplicates or
    break the constraints are redrawn. It stops after ``num_generations`` or when ``num_samples`` distinct
    architectures are scored.
    """

    name = "evolution"

    def __init__(
        self,
        population_size: int = 20,
        num_parents: int = 5,
        num_mutations: int = 10,
        num_crossovers: int = 10,
        mutation_prob: float = 0.1,
        num_generations: int = 20,
    ) -> None:
        for key, value in (
            ("population_size", population_size),
            ("num_parents", num_parents),
            ("num_generations", num_generations),
        ):
            if not isinstance(value, int) or value < 1:
                raise SearchError(f"evaluation.strategy.{key} must be an integer >= 1, got {value!r}.")
        if not 0.0 <= mutation_prob <= 1.0:
            raise SearchError(f"evaluation.strategy.mutation_prob must be in [0, 1], got {mutation_prob!r}.")
        self.population_size = population_size
        self.num_parents = num_parents
        self.num_mutations = num_mutations
        self.num_crossovers = num_crossovers
        self.mutation_prob = mutation_prob
        self.num_generations = num_generations

    def run(self, space: SearchSpace, evaluate: Evaluate, constraints: Constraints, num_samples: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 3])
        scores: dict[str, tuple[float, Architecture]] = {}

        def score(batch: list[Architecture]) -> None:
            batch = batch[: num_samples - len(scores)]
            for arch, value in zip(batch, evaluate(batch)):
                scores[arch.hash] = (value, arch)

        score(list(random_architectures(space, min(self.population_size, num_samples), int(rng.integers(2**31)), constraints)))
        for generation in range(1, self.num_generations):
            if len(scores) >= num_samples:
                break
            ranked = sorted(scores.values(), key=lambda item: (-_sortable(item[0]), item[1].hash))
            parents = [arch for _, arch in ranked[: self.num_parents]]
            children = self._children(space, parents, scores, constraints, rng)
            if not children:
                log.info("Evolution stopped at generation %d: no new allowed architecture found.", generation)
                break
            score(children)
            log.debug("Generation %d: %d scored, best %.4f", generation, len(scores), ranked[0][0])

    def _children(self, space, parents, scores, constraints, rng) -> list[Architecture]:
        children: dict[str, Architecture] = {}

        def propose(make: Callable[[], Architecture], count: int) -> None:
            added = 0
            for _ in range(count * _MAX_DRAWS_PER_SAMPLE // 10):
                if added == count:
                    return
                child = make()
                if child.hash in scores or child.hash in children or not constraints.allows(child):
                    continue
                children[child.hash] = child
                added += 1

        def mutant() -> Architecture:
            return space.mutate(parents[rng.integers(len(parents))], rng, self.mutation_prob)

        def crossover() -> Architecture:
            first, second = rng.choice(len(parents), size=2, replace=len(parents) < 2)
            return space.crossover(parents[first], parents[second], rng)

        propose(mutant, self.num_mutations)
        propose(crossover, self.num_crossovers)
        return list(children.values())


def _sortable(score: float) -> float:
    """NaN scores (failed architectures) sort last."""
    return float("-inf") if score != score else score
