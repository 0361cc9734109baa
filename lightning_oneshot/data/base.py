"""Helpers shared by the data modules: fixed in-memory batches for scoring, and unpadded evaluation shards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, Sampler


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
        """Return the whole validation split in order, as in-memory batches."""
        val = self.splits["val"]
        indices = list(range(len(val)))
        return [_stack(val, indices[start : start + batch_size]) for start in range(0, len(indices), batch_size)]


class UnpaddedDistributedSampler(DistributedSampler):
    """Gives each rank every ``world_size``-th sample in order, without repeating samples to even out ranks.

    The default DistributedSampler pads the last shard with repeated samples, so an accuracy computed on it
    changes with the number of processes. Ranks may get one batch more or less than each other here, which
    is safe for validation and test loops because they synchronise only at the end of the epoch.
    Lightning keeps a sampler that is already a DistributedSampler instead of replacing it.
    """

    def __init__(self, dataset: Dataset) -> None:
        super().__init__(dataset, shuffle=False, drop_last=False)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def evaluation_sampler(dataset: Dataset) -> Sampler | None:
    """Return an unpadded shard of ``dataset`` for this rank under torch.distributed, or None (sequential) without it."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return UnpaddedDistributedSampler(dataset)
    return None
@runtime_checkable
class RetrainSplits(Protocol):
    """A data module whose retrain stage uses other splits than the search and evaluation stages."""

    def use_retrain_splits(self) -> bool:
        """Switch to the retrain stage's splits; return whether they still include a validation split."""
