"""A data module that keeps decoded uint8 images in memory and augments whole batches on the device."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from lightning_oneshot.data.augmentation import cutout, normalize, random_crop_flip
from lightning_oneshot.data.base import evaluation_sampler
from lightning_oneshot.data.resumable import ResumableTrainLoaderMixin

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]


class InMemoryImages(Dataset):
    """uint8 images ``(N, C, H, W)`` and int64 labels, indexed a whole batch at a time.

    The DataLoader's fetcher calls ``__getitems__`` with the batch's indices, so a batch costs one
    ``index_select`` instead of one Python call per sample. Samplers, including Lightning's
    DistributedSampler, still choose the indices.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> None:
        self.images = images
        self.labels = labels
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Batch:
        position = self.indices[index]
        return self.images[position], self.labels[position]

    def __getitems__(self, indices: list[int]) -> Batch:
        positions = self.indices[torch.as_tensor(indices)].to(self.images.device)
        return self.images.index_select(0, positions), self.labels.index_select(0, positions)


def _keep_batch(batch: Batch) -> Batch:
    """Return the batch unchanged: ``InMemoryImages`` already stacks it, so it is the ``collate_fn``."""
    return batch


def _check_int(key: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"dataset.{key} must be an integer >= {minimum}, got {value!r}.")


class InMemoryImageDataModule(ResumableTrainLoaderMixin, pl.LightningDataModule):
    """Train / validation / test splits over uint8 image tensors held in memory.

    Subclasses implement ``load_images`` to decode the official training and test sets once. The splits
    follow NAS practice (DARTS, Liu et al. 2019):

    - ``"search"`` mode (the search and evaluation stages): a seeded split of the official training set
      into train (``1 - val_fraction``) and validation (``val_fraction``). The test set is not read.
    - ``"retrain"`` mode (set by ``use_retrain_splits``): train on the whole official training set, no
      validation loop, and test on the official test set.

    Training batches are augmented in ``on_after_batch_transfer``, on the device that runs the model, with
    per-sample random crops (``crop_padding``), horizontal flips and, in retrain mode only, Cutout
    (``retrain_cutout``). Validation and test batches are only normalised. With ``mean`` or ``std`` left
    as None, the per-channel statistics are computed from the official training set.
    """

    num_classes: int
    num_channels: int
    image_size: int
    display_name: str = "images"

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.5,
        split_seed: int = 0,
        crop_padding: int = 0,
        horizontal_flip: bool = False,
        retrain_cutout: int = 0,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        keep_on_gpu: bool = True,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        _check_int("batch_size", batch_size, 1)
        if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0.0 < val_fraction < 1.0:
            raise ValueError(f"dataset.val_fraction must be a number in (0, 1), got {val_fraction!r}.")
        _check_int("crop_padding", crop_padding, 0)
        _check_int("retrain_cutout", retrain_cutout, 0)
        _check_int("num_workers", num_workers, 0)
        for key, value in (("horizontal_flip", horizontal_flip), ("keep_on_gpu", keep_on_gpu)):
            if not isinstance(value, bool):
                raise ValueError(f"dataset.{key} must be true or false, got {value!r}.")
        for key, value in (("mean", mean), ("std", std)):
            if value is not None and len(value) != self.num_channels:
                raise ValueError(
                    f"dataset.{key} must list one value per channel ({self.num_channels}), got {list(value)!r}. "
                    f"Pass dataset.{key}=null to compute it from the training set."
                )
        if std is not None and min(std) <= 0:
            raise ValueError(f"dataset.std must be positive in every channel, got {list(std)!r}.")

        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.crop_padding = crop_padding
        self.horizontal_flip = horizontal_flip
        self.retrain_cutout = retrain_cutout
        self.keep_on_gpu = keep_on_gpu
        self.num_workers = num_workers
        self.seed = seed
        self.mean = torch.tensor(mean, dtype=torch.float32) if mean is not None else None
        self.std = torch.tensor(std, dtype=torch.float32) if std is not None else None
        self.mode = "search"
        self.images: dict[str, torch.Tensor] = {}
        self.labels: dict[str, torch.Tensor] = {}
        self.indices: dict[str, torch.Tensor] = {}

    def load_images(self) -> tuple[Batch, Batch]:
        """Decode the official training and test sets as ``((images, labels), (images, labels))``.

        Images are uint8 ``(N, C, H, W)`` and labels int64 ``(N,)``.
        """
        raise NotImplementedError

    def use_retrain_splits(self) -> bool:
        """Train on the whole official training set and test on the official test set (retrain stage).

        Returns False: the validation images are training images in this mode, so there is no validation split.
        """
        self.mode = "retrain"
        return False

    def setup(self, stage: str | None = None) -> None:
        if self.images:
            return
        (train_images, train_labels), (test_images, test_labels) = self.load_images()
        self.images = {"train": train_images, "test": test_images}
        self.labels = {"train": train_labels, "test": test_labels}

        generator = torch.Generator().manual_seed(self.split_seed)
        order = torch.randperm(len(train_labels), generator=generator)
        num_val = round(self.val_fraction * len(order))
        if num_val == 0 or num_val == len(order):
            raise ValueError(
                f"dataset.val_fraction={self.val_fraction} leaves an empty split of the {len(order)} training "
                f"images. Pick a value that keeps at least one image on each side."
            )
        self.indices = {
            "search_train": order[num_val:].sort().values,
            "val": order[:num_val].sort().values,
            "full_train": torch.arange(len(order)),
            "test": torch.arange(len(test_labels)),
        }
        if self.mean is None or self.std is None:
            mean, std = _channel_statistics(train_images)
            self.mean = mean if self.mean is None else self.mean
            self.std = std if self.std is None else self.std
        rank_zero_info(
            f"{self.display_name} splits: search train {len(self.indices['search_train'])}, validation {num_val} "
            f"(seed {self.split_seed}); retrain on all {len(order)} training images; test {len(test_labels)}. "
            f"Channel mean {_rounded(self.mean)}, std {_rounded(self.std)}."
        )

    def _model_device(self) -> torch.device:
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    def _loader(self, source: str, split: str, train: bool) -> DataLoader:
        model_device = self._model_device()
        device = model_device if model_device.type == "cuda" and self.keep_on_gpu else torch.device("cpu")
        # NOTE: the tests run on CPU only, so the CUDA-resident storage below is not covered by them.
        if self.images[source].device != device:
            # Each process moves the images once, so every DDP rank keeps its own copy on its own GPU.
            self.images = {name: images.to(device) for name, images in self.images.items()}
            self.labels = {name: labels.to(device) for name, labels in self.labels.items()}
        indices = self.indices[split]
        on_gpu = device.type == "cuda"
        dataset = InMemoryImages(self.images[source], self.labels[source], indices)
        options = {
            "collate_fn": _keep_batch,
            "pin_memory": not on_gpu and model_device.type == "cuda",
            # A last batch of one image would stop BatchNorm in training mode.
            "drop_last": train and len(indices) >= self.batch_size,
        }
        # Workers cannot index CUDA tensors, and slicing in-memory tensors needs none.
        num_workers = 0 if on_gpu else self.num_workers
        if train:
            return self.build_train_loader(dataset, self.batch_size, self.seed, num_workers, **options)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=evaluation_sampler(dataset),
            num_workers=num_workers,
            **options,
        )

    def train_dataloader(self) -> DataLoader:
        split = "full_train" if self.mode == "retrain" else "search_train"
        return self._loader("train", split, train=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.mode == "retrain":
            return []  # The validation images are part of the training set now.
        return self._loader("train", "val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", "test", train=False)

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        training = self.trainer is not None and self.trainer.training
        return self.transform_batch(batch, training)

    def transform_batch(self, batch: Batch, training: bool) -> Batch:
        """Turn a uint8 batch into model input: augmented and normalised when ``training``, else only normalised."""
        images, labels = batch
        if training:
            images = random_crop_flip(images, self.crop_padding, self.horizontal_flip)
        images = normalize(images, self.mean, self.std)
        if training and self.mode == "retrain":
            images = cutout(images, self.retrain_cutout)
        return images, labels

    def calibration_batches(self, num_batches: int, batch_size: int, seed: int) -> list[Batch]:
        """Return ``num_batches`` un-augmented, normalised batches of the search train split in a seeded order."""
        indices = self.indices["search_train"]
        order = indices[torch.randperm(len(indices), generator=torch.Generator().manual_seed(seed))]
        order = order[: num_batches * batch_size]
        batches = [self._normalized("train", order[start : start + batch_size]) for start in range(0, len(order), batch_size)]
        # BatchNorm in training mode needs more than one sample per batch.
        return [batch for batch in batches if len(batch[1]) > 1]

    def validation_batches(self, batch_size: int) -> list[Batch]:
        """Return the whole validation split in order, normalised, as in-memory batches."""
        indices = self.indices["val"]
        return [self._normalized("train", indices[start : start + batch_size]) for start in range(0, len(indices), batch_size)]

    def _normalized(self, source: str, indices: torch.Tensor) -> Batch:
        images = self.images[source].index_select(0, indices.to(self.images[source].device))
        labels = self.labels[source].index_select(0, indices.to(self.labels[source].device))
        return normalize(images, self.mean, self.std).cpu(), labels.cpu()


def _channel_statistics(images: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute the per-channel mean and standard deviation of uint8 images in [0, 1] units, chunk by chunk."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].to(torch.float64) / 255.0
        total += block.sum(dim=(0, 2, 3))
        squares += block.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return mean.float(), std.float()


def _rounded(values: torch.Tensor) -> list[float]:
    return [round(float(value), 4) for value in values]
