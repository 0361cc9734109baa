"""CIFAR-10, CIFAR-100, MNIST, Fashion-MNIST and SVHN, read with ``torchvision.datasets`` into memory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning.utilities import rank_zero_info
from torchvision import datasets

from lightning_oneshot.data.in_memory import Batch, InMemoryImageDataModule

log = logging.getLogger(__name__)


def _without_checksums(dataset_class: type) -> type:
    """Build a subclass of a torchvision dataset whose file checks test only that the files exist.

    torchvision's ``check_integrity(path, md5=None)`` skips the MD5 comparison, so clearing the sums in the
    class attributes is enough. MNIST and Fashion-MNIST compare no sums when they read their extracted files,
    and they name their folder after the class, so they are returned unchanged.
    """
    attributes: dict[str, Any] = {}
    if hasattr(dataset_class, "train_list"):  # CIFAR-10 and CIFAR-100
        attributes["train_list"] = [[name, None] for name, _ in dataset_class.train_list]
        attributes["test_list"] = [[name, None] for name, _ in dataset_class.test_list]
        attributes["meta"] = {**dataset_class.meta, "md5": None}
        attributes["tgz_md5"] = None
    elif hasattr(dataset_class, "split_list"):  # SVHN
        attributes["split_list"] = {split: [url, name, None] for split, (url, name, _) in dataset_class.split_list.items()}
    else:
        return dataset_class
    return type(f"Unverified{dataset_class.__name__}", (dataset_class,), attributes)


class TorchvisionDataModule(InMemoryImageDataModule):
    """An ``InMemoryImageDataModule`` whose images come from a ``torchvision.datasets`` class.

    The files are expected under ``root`` in torchvision's layout (``expected_files``). With
    ``download=False`` (the default) missing files stop the run when the data module is built, before any
    training. torchvision compares CIFAR and SVHN files with their published MD5 sums when it loads them.
    ``verify_checksums=False`` turns that off for re-packed copies.
    """

    torchvision_class: type

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        verify_checksums: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for key, value in (("download", download), ("verify_checksums", verify_checksums)):
            if not isinstance(value, bool):
                raise ValueError(f"dataset.{key} must be true or false, got {value!r}.")
        self.root = Path(root).expanduser().resolve()
        self.download = download
        self.verify_checksums = verify_checksums
        self.dataset_class = self.torchvision_class if verify_checksums else _without_checksums(self.torchvision_class)

        expected = self.expected_files()
        missing = [name for name in expected if not (self.root / name).is_file()]
        if missing and not download:
            absent = "" if missing == expected else f" (missing: {', '.join(missing)})"
            raise ValueError(
                f"dataset.root: {self.display_name} files not found in {self.root}. Expected {', '.join(expected)}"
                f"{absent}. Pass dataset.download=true to download them into that folder, or set dataset.root to a "
                f"folder that contains them."
            )

    def expected_files(self) -> list[str]:
        """Paths relative to ``root`` that torchvision reads for this dataset."""
        raise NotImplementedError

    def _open(self, train: bool, download: bool = False) -> Any:
        raise NotImplementedError

    def prepare_data(self) -> None:
        # Lightning calls this on one process per node, so parallel ranks never download at once.
        if self.download:
            rank_zero_info(f"Checking or downloading {self.display_name} into {self.root}.")
            self._open(train=True, download=True)
            self._open(train=False, download=True)

    def setup(self, stage: str | None = None) -> None:
        # NOTE: the evaluation stage calls setup without prepare_data, so a stage=evaluate run with
        # download=true downloads here, on every process that gets this far.
        if self.download and not self.images:
            self.prepare_data()
        super().setup(stage)

    def load_images(self) -> tuple[Batch, Batch]:
        try:
            train, test = self._open(train=True), self._open(train=False)
        except RuntimeError as error:
            # torchvision raises RuntimeError for a missing file and for an MD5 mismatch alike.
            raise ValueError(
                f"dataset.root: could not load the {self.display_name} files in {self.root} ({error}). Expected "
                f"files: {', '.join(self.expected_files())}. For a re-packed copy, pass dataset.verify_checksums=false; "
                f"otherwise pass dataset.download=true to fetch them again."
            ) from error
        return self._decode(train), self._decode(test)

    @staticmethod
    def _decode(dataset: Any) -> Batch:
        raise NotImplementedError


class _CIFAR(TorchvisionDataModule):
    num_channels = 3
    image_size = 32

    def expected_files(self) -> list[str]:
        names = [name for name, _ in self.torchvision_class.train_list + self.torchvision_class.test_list]
        names.append(self.torchvision_class.meta["filename"])
        return [f"{self.torchvision_class.base_folder}/{name}" for name in names]

    def _open(self, train: bool, download: bool = False) -> Any:
        return self.dataset_class(str(self.root), train=train, download=download)

    @staticmethod
    def _decode(dataset: Any) -> Batch:
        # torchvision keeps CIFAR as a (N, H, W, C) uint8 array.
        images = torch.from_numpy(np.ascontiguousarray(dataset.data)).permute(0, 3, 1, 2).contiguous()
        return images, torch.as_tensor(dataset.targets, dtype=torch.long)


class CIFAR10DataModule(_CIFAR):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32x32 pixels in 10 classes."""

    torchvision_class = datasets.CIFAR10
    num_classes = 10
    display_name = "CIFAR-10"


class CIFAR100DataModule(_CIFAR):
    """CIFAR-100: 50,000 training and 10,000 test colour images of 32x32 pixels in 100 fine classes."""

    torchvision_class = datasets.CIFAR100
    num_classes = 100
    display_name = "CIFAR-100"


class _MNISTFamily(TorchvisionDataModule):
    num_channels = 1
    image_size = 28
    num_classes = 10

    def expected_files(self) -> list[str]:
        # torchvision reads the extracted idx files from <root>/<class name>/raw.
        folder = f"{self.torchvision_class.__name__}/raw"
        return [f"{folder}/{Path(url).name.removesuffix('.gz')}" for url, _ in self.torchvision_class.resources]

    def _open(self, train: bool, download: bool = False) -> Any:
        return self.dataset_class(str(self.root), train=train, download=download)

    @staticmethod
    def _decode(dataset: Any) -> Batch:
        return dataset.data.unsqueeze(1).contiguous(), dataset.targets.long()


class MNISTDataModule(_MNISTFamily):
    """MNIST: 60,000 training and 10,000 test grey-scale handwritten digits of 28x28 pixels."""

    torchvision_class = datasets.MNIST
    display_name = "MNIST"


class FashionMNISTDataModule(_MNISTFamily):
    """Fashion-MNIST: 60,000 training and 10,000 test grey-scale clothing images of 28x28 pixels in 10 classes."""

    torchvision_class = datasets.FashionMNIST
    display_name = "Fashion-MNIST"


class SVHNDataModule(TorchvisionDataModule):
    """SVHN: 73,257 training and 26,032 test colour images of house-number digits, 32x32 pixels.

    Only the ``train`` and ``test`` splits are used. The ``extra`` split of 531,131 easier images is not.
    """

    torchvision_class = datasets.SVHN
    num_channels = 3
    image_size = 32
    num_classes = 10
    display_name = "SVHN"

    def expected_files(self) -> list[str]:
        return [self.torchvision_class.split_list[split][1] for split in ("train", "test")]

    def _open(self, train: bool, download: bool = False) -> Any:
        return self.dataset_class(str(self.root), split="train" if train else "test", download=download)

    @staticmethod
    def _decode(dataset: Any) -> Batch:
        # torchvision already transposes SVHN to (N, C, H, W) and maps the label 10 to the digit 0.
        return torch.from_numpy(np.ascontiguousarray(dataset.data)), torch.from_numpy(dataset.labels.astype(np.int64))
