import pytest
import torch

from lightning_oneshot.data import DigitsDataModule


@pytest.fixture(scope="module")
def datamodule():
    module = DigitsDataModule(batch_size=32)
    module.setup()
    return module


def _rows(dataset) -> set[bytes]:
    return {x.numpy().tobytes() for x, _ in dataset}


def test_splits_cover_the_data_without_overlap(datamodule):
    sizes = {name: len(split) for name, split in datamodule.splits.items()}
    assert sizes == {"train": 1077, "val": 360, "test": 360}
    train, val, test = (_rows(datamodule.splits[name]) for name in ("train", "val", "test"))
    # The digits data has a few duplicated images, so compare indices of distinct rows loosely.
    assert len(train & test) <= 2
    assert len(val & test) <= 2


def test_splits_are_seeded():
    first, second = DigitsDataModule(split_seed=3), DigitsDataModule(split_seed=3)
    first.setup()
    second.setup()
    assert torch.equal(first.splits["test"].tensors[1], second.splits["test"].tensors[1])


def test_calibration_batches_are_fixed_and_from_train(datamodule):
    first = datamodule.calibration_batches(3, 16, seed=0)
    second = datamodule.calibration_batches(3, 16, seed=0)
    assert len(first) == 3
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, second))
    train = _rows(datamodule.splits["train"])
    assert all(x.numpy().tobytes() in train for batch, _ in first for x in batch)


def test_validation_batches_cover_the_split_in_order(datamodule):
    batches = datamodule.validation_batches(100)
    assert sum(len(y) for _, y in batches) == 360
    assert torch.equal(torch.cat([y for _, y in batches]), datamodule.splits["val"].tensors[1])


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_bad_batch_size_is_rejected(batch_size):
    with pytest.raises(ValueError, match="dataset.batch_size must be an integer >= 1"):
        DigitsDataModule(batch_size=batch_size)
