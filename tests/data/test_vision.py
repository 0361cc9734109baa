"""The torchvision-backed data modules, on tiny files written in each dataset's real on-disk format."""

import pytest
import pytorch_lightning as pl
import torch

from dataset_files import WRITERS
from lightning_oneshot.data import (
    CIFAR10DataModule,
    CIFAR100DataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
    SVHNDataModule,
)

MODULES = {
    "cifar10": CIFAR10DataModule,
    "cifar100": CIFAR100DataModule,
    "mnist": MNISTDataModule,
    "fashion_mnist": FashionMNISTDataModule,
    "svhn": SVHNDataModule,
}
TRAIN_IMAGES, TEST_IMAGES = 40, 12


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    # The five layouts do not collide, so one folder contains every dataset, like a shared data folder.
    root = tmp_path_factory.mktemp("datasets")
    for writer in WRITERS.values():
        writer(root, TRAIN_IMAGES, TEST_IMAGES)
    return root


def _datamodule(name, root, **kwargs):
    options = {"batch_size": 8, "verify_checksums": False, **kwargs}
    datamodule = MODULES[name](root=str(root), **options)
    datamodule.setup("fit")
    return datamodule


@pytest.mark.parametrize("name", sorted(MODULES))
def test_reads_generated_files(data_root, name):
    datamodule = _datamodule(name, data_root)
    images = datamodule.images["train"]
    assert images.dtype == torch.uint8
    assert tuple(images.shape) == (TRAIN_IMAGES, datamodule.num_channels, datamodule.image_size, datamodule.image_size)
    assert len(datamodule.images["test"]) == TEST_IMAGES
    labels = torch.cat([datamodule.labels["train"], datamodule.labels["test"]])
    assert labels.min() >= 0
    assert labels.max() < datamodule.num_classes


@pytest.mark.parametrize("name", sorted(MODULES))
def test_search_splits_partition_training_set(data_root, name):
    datamodule = _datamodule(name, data_root, val_fraction=0.25)
    train, val = set(datamodule.indices["search_train"].tolist()), set(datamodule.indices["val"].tolist())
    assert len(val) == 10
    assert len(train) == 30
    assert train.isdisjoint(val)
    assert train | val == set(range(TRAIN_IMAGES))


def test_split_depends_only_on_seed(data_root):
    first, second = _datamodule("cifar10", data_root), _datamodule("cifar10", data_root)
    other = _datamodule("cifar10", data_root, split_seed=1)
    assert torch.equal(first.indices["val"], second.indices["val"])
    assert not torch.equal(first.indices["val"], other.indices["val"])


def test_retrain_splits_use_whole_training_set(data_root):
    datamodule = _datamodule("svhn", data_root, batch_size=7)
    assert datamodule.use_retrain_splits() is False

    seen = torch.cat([labels for _, labels in datamodule.train_dataloader()])
    assert len(seen) == 35  # drop_last keeps whole batches of 7 out of 40 images.
    assert datamodule.val_dataloader() == []
    test_labels = torch.cat([labels for _, labels in datamodule.test_dataloader()])
    assert torch.equal(test_labels, datamodule.labels["test"])


def test_training_batches_differ_per_sample_and_call(data_root):
    datamodule = _datamodule("cifar10", data_root, crop_padding=4, horizontal_flip=True)
    images, labels = next(iter(datamodule.train_dataloader()))
    repeated = (images[:1].expand(8, -1, -1, -1).contiguous(), labels[:1].expand(8))
    first, _ = datamodule.transform_batch(repeated, training=True)
    second, _ = datamodule.transform_batch(repeated, training=True)
    assert len({sample.numpy().tobytes() for sample in first}) > 1
    assert not torch.equal(first, second)


class _RecordingModule(pl.LightningModule):
    """A linear classifier that keeps the first training and validation batch it receives."""

    def __init__(self, num_inputs: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(num_inputs, 10)
        self.batches = {}

    def training_step(self, batch, batch_idx):
        self.batches.setdefault("train", batch)
        return torch.nn.functional.cross_entropy(self.linear(batch[0].flatten(1)), batch[1])

    def validation_step(self, batch, batch_idx):
        self.batches.setdefault("val", batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_augments_only_training_batches(data_root):
    datamodule = MODULES["cifar10"](
        root=str(data_root), verify_checksums=False, batch_size=16, crop_padding=4, horizontal_flip=True
    )
    module = _RecordingModule(3 * 32 * 32)
    trainer = pl.Trainer(
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=datamodule)

    raw_train = datamodule.images["train"][datamodule.indices["search_train"]]
    unaugmented = {image.numpy().tobytes() for image in datamodule.transform_batch((raw_train, None), training=False)[0]}
    train_images, _ = module.batches["train"]
    assert train_images.dtype == torch.float32
    assert any(image.numpy().tobytes() not in unaugmented for image in train_images)
    val_images, _ = module.batches["val"]
    expected_val = datamodule.transform_batch((datamodule.images["train"][datamodule.indices["val"][:16]], None), training=False)[0]
    assert torch.equal(val_images, expected_val)


@pytest.mark.parametrize("loader", ["val_dataloader", "test_dataloader"])
def test_evaluation_batches_are_deterministic(data_root, loader):
    datamodule = _datamodule("cifar10", data_root, crop_padding=4, horizontal_flip=True)
    passes = []
    for _ in range(2):
        batches = [datamodule.transform_batch(batch, training=False) for batch in getattr(datamodule, loader)()]
        passes.append(torch.cat([images for images, _ in batches]))
    assert torch.equal(passes[0], passes[1])
    raw = datamodule.images["test" if loader == "test_dataloader" else "train"]
    expected_first = (raw[datamodule.indices["test" if loader == "test_dataloader" else "val"][0]].float() / 255)
    expected_first = (expected_first - datamodule.mean.view(-1, 1, 1)) / datamodule.std.view(-1, 1, 1)
    assert torch.allclose(passes[0][0], expected_first)


def test_validation_batches_cover_val_split_in_order(data_root):
    datamodule = _datamodule("mnist", data_root)
    batches = datamodule.validation_batches(batch_size=6)
    labels = torch.cat([labels for _, labels in batches])
    assert torch.equal(labels, datamodule.labels["train"][datamodule.indices["val"]])


def test_calibration_batches_come_from_search_train(data_root):
    datamodule = _datamodule("mnist", data_root)
    first = datamodule.calibration_batches(num_batches=2, batch_size=5, seed=0)
    second = datamodule.calibration_batches(num_batches=2, batch_size=5, seed=0)
    assert [len(labels) for _, labels in first] == [5, 5]
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(first, second))
    train_images = {datamodule.images["train"][index].numpy().tobytes() for index in datamodule.indices["search_train"]}
    normalized = datamodule.transform_batch((datamodule.images["train"], datamodule.labels["train"]), training=False)[0]
    by_value = {row.numpy().tobytes(): raw.numpy().tobytes() for row, raw in zip(normalized, datamodule.images["train"])}
    assert all(by_value[image.numpy().tobytes()] in train_images for images, _ in first for image in images)


def test_retrain_cutout_applies_only_in_retrain_mode(data_root):
    datamodule = _datamodule("cifar10", data_root, retrain_cutout=8)
    batch = next(iter(datamodule.train_dataloader()))
    torch.manual_seed(0)
    search_images, _ = datamodule.transform_batch(batch, training=True)
    datamodule.use_retrain_splits()
    torch.manual_seed(0)
    retrain_images, _ = datamodule.transform_batch(batch, training=True)
    assert not (search_images == 0).all(dim=1).any()
    assert (retrain_images == 0).all(dim=1).flatten(1).any(dim=1).all()


def test_missing_files_name_root_files_and_override(tmp_path):
    with pytest.raises(ValueError) as error:
        CIFAR10DataModule(root=str(tmp_path))
    message = str(error.value)
    assert str(tmp_path) in message
    assert "cifar-10-batches-py/data_batch_1" in message
    assert "cifar-10-batches-py/test_batch" in message
    assert "dataset.download=true" in message


def test_partly_missing_files_are_listed(tmp_path):
    WRITERS["mnist"](tmp_path, 4, 4)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match=r"\(missing: MNIST/raw/t10k-labels-idx1-ubyte\)"):
        MNISTDataModule(root=str(tmp_path))


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn"])
def test_checksums_reject_generated_files(data_root, name):
    datamodule = MODULES[name](root=str(data_root))
    with pytest.raises(ValueError, match="dataset.verify_checksums=false"):
        datamodule.setup("fit")


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("val_fraction", 0.0, "dataset.val_fraction must be a number in (0, 1), got 0.0"),
        ("val_fraction", 1.5, "dataset.val_fraction must be a number in (0, 1), got 1.5"),
        ("crop_padding", -1, "dataset.crop_padding must be an integer >= 0, got -1"),
        ("download", "yes", "dataset.download must be true or false, got 'yes'"),
        ("mean", [0.5], "dataset.mean must list one value per channel (3), got [0.5]"),
        ("std", [0.2, 0.0, 0.2], "dataset.std must be positive in every channel"),
    ],
)
def test_bad_values_are_rejected(data_root, option, value, expected):
    with pytest.raises(ValueError) as error:
        CIFAR10DataModule(root=str(data_root), **{option: value})
    assert expected in str(error.value)


def test_val_fraction_leaving_empty_split_is_rejected(data_root):
    datamodule = MODULES["mnist"](root=str(data_root), val_fraction=0.01)
    with pytest.raises(ValueError, match="leaves an empty split of the 40 training images"):
        datamodule.setup("fit")


def test_download_goes_through_torchvision(tmp_path):
    datamodule = MNISTDataModule(root=str(tmp_path), download=True)
    calls = []

    def record(root, train, download):
        calls.append((root, train, download))

    # A stand-in for the torchvision class, so that no request leaves this machine.
    datamodule.dataset_class = record
    datamodule.prepare_data()
    assert calls == [(str(tmp_path.resolve()), True, True), (str(tmp_path.resolve()), False, True)]
