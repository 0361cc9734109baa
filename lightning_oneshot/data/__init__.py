"""LightningDataModules for the search, evaluation and retrain stages."""

from lightning_oneshot.data.digits import DigitsDataModule
from lightning_oneshot.data.in_memory import InMemoryImageDataModule
from lightning_oneshot.data.vision import (
    CIFAR10DataModule,
    CIFAR100DataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
    SVHNDataModule,
    TorchvisionDataModule,
)

__all__ = [
    "CIFAR10DataModule",
    "CIFAR100DataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "InMemoryImageDataModule",
    "MNISTDataModule",
    "SVHNDataModule",
    "TorchvisionDataModule",
]
