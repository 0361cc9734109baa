"""Helpers shared by the data modules: fixed in-memory batches for the evaluation stage."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch.utils.data import Dataset


def _stack(dataset: Dataset, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    samples = [dataset[index] for index in indices]
    return torch.stack([x for x, _ in samples]), torch.as_tensor([int(y) for _, y in samples])


class CalibrationMixin:
    """Materialises fixed batches for BatchNorm re-estimation and validation scoring.

    Data modules that use it keep their un-augmented splits in ``self.splits`` under "train" and "val".
    The batches are built once and kept in memory, so scoring many architectures costs only forward passes.
    """

    splits: dict[str, Dataset]

    def calibration_batches(self, num_batches: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``num_batches`` training batches in a seeded order that does not change between calls."""
        train = self.splits["train"]
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(train), generator=generator).tolist()
        batches = []
        for start in range(0, min(len(order), num_batches * batch_size), batch_size):
            chunk = order[start : start + batch_size]
            if len(chunk) < 2:
                break  # BatchNorm in training mode needs more than one sample.
            batches.append(_stack(train, chunk))
        return batches

    def validation_batches(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The whole validation split in order, as in-memory batches."""
        val = self.splits["val"]
        indices = list(range(len(val)))
        return [_stack(val, indices[start : start + batch_size]) for start in range(0, len(indices), batch_size)]


@runtime_checkable
class RetrainSplits(Protocol):
    """A data module whose retrain stage uses other splits than the search and evaluation stages."""

    def use_retrain_splits(self) -> bool:
        """Switch to the retrain stage's splits; return whether they still include a validation split."""
