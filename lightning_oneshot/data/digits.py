"""scikit-learn's bundled handwritten digits: 1797 grey-scale 8x8 images of 10 classes, with no download."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from lightning_oneshot.data.base import CalibrationMixin, evaluation_sampler
from lightning_oneshot.data.resumable import ResumableTrainLoaderMixin

log = logging.getLogger(__name__)


class DigitsDataModule(CalibrationMixin, ResumableTrainLoaderMixin, pl.LightningDataModule):
    """Fixed, seeded and stratified train / validation / test splits of the digits data.

    Pixels are scaled to [0, 1] and standardised with the training split's mean and standard deviation.
    The search and evaluation stages use only the train and validation splits. Only the retrain stage's
    ``Trainer.test`` reads the test split. The training order of each epoch is seeded by ``seed`` and the
    epoch, so that a run resumed in the middle of an epoch trains on the same batches.
    """

    num_classes = 10
    num_channels = 1
    image_size = 8

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"dataset.batch_size must be an integer >= 1, got {batch_size!r}.")
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise ValueError(f"dataset.{key} must be a number in (0, 1), got {value!r}.")
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(
                f"dataset.val_fraction + dataset.test_fraction must be below 1, got {val_fraction} + {test_fraction}."
            )
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.num_workers = num_workers
        self.seed = seed
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        labels = torch.tensor(digits.target, dtype=torch.long)

        indices = list(range(len(labels)))
        rest, test = train_test_split(
            indices, test_size=self.test_fraction, stratify=labels.numpy(), random_state=self.split_seed
        )
        val_size = self.val_fraction / (1.0 - self.test_fraction)
        train, val = train_test_split(
            rest, test_size=val_size, stratify=labels[rest].numpy(), random_state=self.split_seed
        )

        mean, std = images[train].mean(), images[train].std()
        images = (images - mean) / std
        self.splits = {
            name: TensorDataset(images[index], labels[index])
            for name, index in (("train", train), ("val", val), ("test", test))
        }
        rank_zero_info(f"Digits splits: train {len(train)}, val {len(val)}, test {len(test)} images.")

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        sampler = None if shuffle else evaluation_sampler(self.splits[split])
        return DataLoader(
            self.splits[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.build_train_loader(self.splits["train"], self.batch_size, self.seed, self.num_workers)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
