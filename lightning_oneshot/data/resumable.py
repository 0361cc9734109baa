"""A shuffled training DataLoader that a run resumed in the middle of an epoch continues exactly.

The order of epoch ``e`` is a permutation drawn from a generator seeded with ``(seed, e)``, so it does not
depend on the global random state. Lightning saves the loader's ``state_dict`` (the epoch and the number of
batches delivered in it) in every checkpoint and passes it to ``load_state_dict`` on resume. The resumed
loader then starts at the first batch that the interrupted run had not trained on, without loading the
skipped samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from pytorch_lightning.strategies import ParallelStrategy
from pytorch_lightning.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, Sampler


class EpochSeededSampler(Sampler[int]):
    """Shuffles the indices of ``num_samples`` items with a generator seeded by ``(seed, epoch)``.

    Lightning calls ``set_epoch`` before every epoch. ``start`` skips that many indices of the next
    iteration only, which is how a resumed epoch continues where it stopped.
    """

    def __init__(self, num_samples: int, seed: int) -> None:
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def permutation(self, epoch: int) -> list[int]:
        state = np.random.SeedSequence([self.seed, int(epoch)]).generate_state(1, dtype=np.uint64)[0]
        generator = torch.Generator().manual_seed(int(state))
        return torch.randperm(self.num_samples, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        start, self.start = self.start, 0
        yield from self.permutation(self.epoch)[start:]

    def __len__(self) -> int:
        return self.num_samples


class ResumableDataLoader(DataLoader):
    """A DataLoader over an ``EpochSeededSampler`` that implements Lightning's ``state_dict`` interface.

    It counts the batches it has delivered in the current epoch. Lightning does not prefetch from a loader
    that has a length, so at a checkpoint this count equals the number of batches trained on.
    """

    sampler: EpochSeededSampler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.sampler, EpochSeededSampler):
            raise TypeError(f"ResumableDataLoader needs an EpochSeededSampler, got {type(self.sampler).__name__}.")
        self._delivered = 0
        self._resume: tuple[int, int] | None = None

    def __iter__(self) -> Iterator[Any]:
        # A generator: this body runs at the first `next`, after Lightning has called `set_epoch`.
        skip = 0
        if self._resume is not None and self._resume[0] == self.sampler.epoch:
            skip = self._resume[1]
        self._resume = None
        self.sampler.start = skip * self.batch_size
        self._delivered = skip
        for batch in super().__iter__():
            self._delivered += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.sampler.seed, "epoch": self.sampler.epoch, "batches_delivered": self._delivered}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if state_dict["seed"] != self.sampler.seed:
            rank_zero_warn(
                f"The checkpoint's training data order used seed {state_dict['seed']}, but the data loader has seed "
                f"{self.sampler.seed}; keeping {state_dict['seed']} so that the resumed epoch sees the same batches."
            )
            self.sampler.seed = int(state_dict["seed"])
        # An epoch-end checkpoint stores the finished epoch. Lightning resumes it at the next epoch, so
        # the skip applies only when the epoch that starts matches the stored one.
        self._resume = (int(state_dict["epoch"]), int(state_dict["batches_delivered"]))


class ResumableTrainLoaderMixin:
    """Saves the training loader's position with the data module's checkpoint state and restores it on resume.

    Lightning also restores a stateful loader itself, but only if the loader is built after the checkpoint
    is loaded. Schedules sized from ``trainer.estimated_stepping_batches`` build it earlier (Lightning
    2.6), so the data module keeps the state and hands it to the loader, whichever comes first.
    """

    _train_loader: ResumableDataLoader | None = None
    _pending_loader_state: dict[str, int] | None = None

    def build_train_loader(
        self, dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0, **options: Any
    ) -> DataLoader:
        """Return the shuffled training loader: resumable on one device, a plain shuffled loader on several.

        ``options`` are passed on to the DataLoader (for example ``collate_fn``, ``drop_last`` or ``pin_memory``).

        NOTE: under a parallel strategy (DDP, also on one device) Lightning replaces the sampler with a distributed
        one, so this returns a plain ``shuffle=True`` loader there, and a mid-epoch resume does not restore the
        data order.
        """
        trainer = getattr(self, "trainer", None)
        # Lightning swaps in a distributed sampler under every parallel strategy, even DDP on one device.
        if trainer is not None and isinstance(trainer.strategy, ParallelStrategy):
            return DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=True,
                num_workers=num_workers,
                persistent_workers=num_workers > 0,
                **options,
            )
        loader = ResumableDataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochSeededSampler(len(dataset), seed),
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            **options,
        )
        if self._pending_loader_state is not None:
            loader.load_state_dict(self._pending_loader_state)
            self._pending_loader_state = None
        self._train_loader = loader
        return loader

    def state_dict(self) -> dict[str, Any]:
        if self._train_loader is None:
            return {}
        return {"train_loader": self._train_loader.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = state_dict.get("train_loader")
        if state is None:
            return
        if self._train_loader is not None:
            self._train_loader.load_state_dict(state)
        else:
            self._pending_loader_state = state
