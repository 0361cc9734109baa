"""Samplers pick what is active in the supernet at each training step.

A sampler is a pure function of (seed, global step): every DDP rank draws the same mask without any
communication, and a run resumed from a checkpoint continues the same sequence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace

# Separate random streams, so that the validation architectures never coincide with a training draw.
_TRAIN_STREAM = 0
_VALIDATION_STREAM = 1


class Sampler(ABC):
    """Gives the edge-by-operation mask for global step ``step``."""

    name: str = "sampler"

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.seed = int(seed)

    def rng(self, step: int, stream: int = _TRAIN_STREAM) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, int(step)])

    @abstractmethod
    def mask(self, step: int, total_steps: int) -> np.ndarray:
        """Return the boolean mask to train at ``step`` of ``total_steps``."""

    @abstractmethod
    def validation_masks(self) -> list[tuple[str, np.ndarray]]:
        """Fixed (label, mask) pairs that the search stage validates on after each epoch."""

    def state_dict(self) -> dict:
        return {"name": self.name, "seed": self.seed}


class UniformSampler(Sampler):
    """Single path: one operation per edge, drawn uniformly (as in SPOS, Guo et al. 2019)."""

    name = "uniform"

    def __init__(self, space: SearchSpace, seed: int, num_val_architectures: int = 3) -> None:
        super().__init__(space, seed)
        if not isinstance(num_val_architectures, int) or num_val_architectures < 1:
            raise ValueError(f"sampler.num_val_architectures must be an integer >= 1, got {num_val_architectures!r}.")
        self.num_val_architectures = num_val_architectures

    def mask(self, step: int, total_steps: int) -> np.ndarray:
        return self.space.sample(self.rng(step)).matrix

    def validation_architectures(self) -> list[Architecture]:
        rng = self.rng(0, _VALIDATION_STREAM)
        return [self.space.sample(rng) for _ in range(self.num_val_architectures)]

    def validation_masks(self) -> list[tuple[str, np.ndarray]]:
        return [(arch.hash, arch.matrix) for arch in self.validation_architectures()]


class DropPathSampler(Sampler):
    """The whole one-shot model with DropPath (Bender et al. 2018, "Understanding and Simplifying One-Shot
    Architecture Search").

    Each operation on each edge is dropped independently. The drop probability rises linearly from 0 at the
    first step to ``drop_prob`` at the last step of training, and at least one operation per edge is kept.
    """

    name = "droppath"

    def __init__(self, space: SearchSpace, seed: int, drop_prob: float = 0.5) -> None:
        super().__init__(space, seed)
        if isinstance(drop_prob, bool) or not isinstance(drop_prob, (int, float)) or not 0.0 <= drop_prob <= 1.0:
            raise ValueError(f"sampler.drop_prob must be a number in [0, 1], got {drop_prob!r}.")
        self.drop_prob = float(drop_prob)

    def current_drop_prob(self, step: int, total_steps: int) -> float:
        progress = min(1.0, step / max(1, total_steps - 1))
        return self.drop_prob * progress

    def mask(self, step: int, total_steps: int) -> np.ndarray:
        return self.space.droppath_mask(self.rng(step), self.current_drop_prob(step, total_steps))

    def validation_masks(self) -> list[tuple[str, np.ndarray]]:
        return [("all_ops", self.space.full_mask())]

    def state_dict(self) -> dict:
        return {**super().state_dict(), "drop_prob": self.drop_prob}
