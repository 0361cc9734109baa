"""LightningDataModules for the search, evaluation and retrain stages."""

from lightning_oneshot.data.digits import DigitsDataModule

__all__ = ["DigitsDataModule"]
