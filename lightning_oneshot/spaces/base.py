"""The search-space interface that samplers, search strategies and the pipeline rely on."""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lightning_oneshot.spaces.architecture import Architecture, ArchitectureError, load_architecture_file
from lightning_oneshot.supernet import Supernet


class SearchSpace(ABC):
    """A multi-graph that contains every architecture at once.

    Subclasses set ``edges`` (stable string keys) and ``ops`` (the columns of the edge-by-operation matrix),
    and may restrict the candidates of an edge with ``edge_candidates``. The default rules, sampling,
    enumeration, mutation and crossover describe a space in which every edge independently chooses exactly
    one of its candidates; spaces with other rules override them.
    """

    name: str = "base"

    def __init__(self, edges: tuple[str, ...], ops: tuple[str, ...]) -> None:
        self.edges = edges
        self.ops = ops

    # Structure -------------------------------------------------------------------------------------

    def edge_candidates(self, edge: str) -> tuple[str, ...]:
        """Return the operations that ``edge`` may choose from."""
        return self.ops

    def describe(self) -> dict[str, Any]:
        """Return a description that identifies the space; checkpoints store it to detect mismatches on load."""
        return {"name": self.name, "edges": list(self.edges), "ops": list(self.ops)}

    # Architectures ---------------------------------------------------------------------------------

    def validate(self, arch: Architecture) -> None:
        """Raise ``ArchitectureError`` unless every edge has exactly one of its candidate operations."""
        self._check_axes(arch)
        for edge, row in zip(self.edges, arch.matrix):
            active = [op for op, on in zip(self.ops, row) if on]
            allowed = self.edge_candidates(edge)
            if len(active) != 1:
                raise ArchitectureError(
                    f"Edge {edge!r} has {len(active)} active operations {active}; an architecture needs exactly "
                    f"one per edge, from: {', '.join(allowed)}."
                )
            if active[0] not in allowed:
                raise ArchitectureError(
                    f"Edge {edge!r}: operation {active[0]!r} is not allowed here. Allowed: {', '.join(allowed)}."
                )

    def _check_axes(self, arch: Architecture) -> None:
        if arch.edges != self.edges or arch.ops != self.ops:
            raise ArchitectureError(
                f"Architecture axes do not match the {self.name!r} search space: expected edges {list(self.edges)} "
                f"and operations {list(self.ops)}, got {list(arch.edges)} and {list(arch.ops)}."
            )

    def architecture(self, data: Architecture | Mapping | np.ndarray | torch.Tensor) -> Architecture:
        """Build and validate an architecture from its readable form, a matrix, or an Architecture."""
        if isinstance(data, Architecture):
            arch = data
        elif isinstance(data, Mapping):
            arch = Architecture.from_dict(data, self.edges, self.ops)
        else:
            arch = Architecture(self.edges, self.ops, data)
        self.validate(arch)
        return arch

    def load_architecture(self, path: str | Path) -> Architecture:
        """Read and validate an architecture file; errors name the file."""
        data = load_architecture_file(path)
        try:
            return self.architecture(data)
        except ArchitectureError as error:
            raise ArchitectureError(f"{path}: {error}") from error

    def _from_choices(self, choices: Mapping[str, str]) -> Architecture:
        matrix = np.zeros((len(self.edges), len(self.ops)), dtype=bool)
        for row, edge in enumerate(self.edges):
            matrix[row, self.ops.index(choices[edge])] = True
        return Architecture(self.edges, self.ops, matrix)

    def _choices(self, arch: Architecture) -> dict[str, str]:
        return {edge: arch.active_ops(edge)[0] for edge in self.edges}

    # Sampling --------------------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Draw an architecture uniformly at random."""
        return self._from_choices({edge: rng.choice(self.edge_candidates(edge)) for edge in self.edges})

    def full_mask(self) -> np.ndarray:
        """Return the mask that activates every candidate operation (the whole one-shot model)."""
        mask = np.zeros((len(self.edges), len(self.ops)), dtype=bool)
        for row, edge in enumerate(self.edges):
            for op in self.edge_candidates(edge):
                mask[row, self.ops.index(op)] = True
        return mask

    def droppath_mask(self, rng: np.random.Generator, drop_prob: float) -> np.ndarray:
        """Drop each candidate operation independently with ``drop_prob``, keeping at least one per edge.

        This is the DropPath of Bender et al. 2018, "Understanding and Simplifying One-Shot Architecture
        Search". Where every operation of an edge is dropped, one of them, drawn uniformly, is kept.
        """
        mask = self.full_mask()
        keep = rng.random(mask.shape) >= drop_prob
        mask &= keep
        for row, edge in enumerate(self.edges):
            if not mask[row].any():
                mask[row, self.ops.index(rng.choice(self.edge_candidates(edge)))] = True
        return mask

    def size(self) -> int:
        """Return the exact number of architectures in the space."""
        return math.prod(len(self.edge_candidates(edge)) for edge in self.edges)

    def enumerate(self) -> Iterator[Architecture]:
        """Yield every architecture once, in a fixed order."""
        candidates = [self.edge_candidates(edge) for edge in self.edges]
        for combination in itertools.product(*candidates):
            yield self._from_choices(dict(zip(self.edges, combination)))

    def mutate(self, arch: Architecture, rng: np.random.Generator, prob: float | None = None) -> Architecture:
        """Resample each edge with probability ``prob`` (default 1 / number of edges); at least one edge changes."""
        prob = 1.0 / len(self.edges) if prob is None else prob
        choices = self._choices(arch)
        mutable = [edge for edge in self.edges if len(self.edge_candidates(edge)) > 1]
        if not mutable:
            return arch
        picked = [edge for edge in mutable if rng.random() < prob] or [mutable[rng.integers(len(mutable))]]
        for edge in picked:
            others = [op for op in self.edge_candidates(edge) if op != choices[edge]]
            choices[edge] = others[rng.integers(len(others))]
        return self._from_choices(choices)

    def crossover(self, first: Architecture, second: Architecture, rng: np.random.Generator) -> Architecture:
        """Take each edge's choice from either parent with equal probability."""
        a, b = self._choices(first), self._choices(second)
        return self._from_choices({edge: a[edge] if rng.random() < 0.5 else b[edge] for edge in self.edges})

    # Networks --------------------------------------------------------------------------------------

    @abstractmethod
    def build_supernet(self) -> Supernet:
        """Build the weight-sharing supernet that contains every architecture."""

    @abstractmethod
    def build_standalone(self, arch: Architecture) -> nn.Module:
        """Build a network with only the chosen operations, mirroring the supernet's module tree."""
