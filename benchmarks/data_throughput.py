"""Compare supernet training throughput with the real data pipeline against pre-made batches.

Both arms run the same Lightning ``Trainer.fit`` on an NB-201 supernet under a uniform single-path sampler:

- ``pipeline``: ``InMemoryImageDataModule`` over CIFAR-sized uint8 images (random pixels), sliced per batch
  and augmented on the device (random crop with 4-pixel padding, horizontal flip, normalisation).
- ``premade``: the same number of already normalised float batches, stored on the model's device, with no
  augmentation and no data module.

Steps per second are measured from the end of the warm-up steps to the end of the epoch, with the device
synchronised at both ends. The arms alternate for ``--repeats`` rounds and the median of each is kept. The
printed ratio is pipeline / premade; 1.0 means the data pipeline costs nothing.

    python benchmarks/data_throughput.py
    python benchmarks/data_throughput.py --batch-size 256 --precision bf16-mixed --channels-last   # on a GPU
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Iterator

import pytorch_lightning as pl
import torch

from lightning_oneshot.callbacks import ArchitectureSamplingCallback
from lightning_oneshot.data.augmentation import normalize
from lightning_oneshot.data.in_memory import Batch, InMemoryImageDataModule
from lightning_oneshot.modules import SupernetModule
from lightning_oneshot.samplers import UniformSampler
from lightning_oneshot.spaces.registry import build_space


class SyntheticImages(InMemoryImageDataModule):
    """CIFAR-sized random uint8 images, so that the benchmark needs no dataset files."""

    num_classes = 10
    num_channels = 3
    image_size = 32
    display_name = "Synthetic 32x32"

    def __init__(self, num_images: int, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_images = num_images
        self.seed = seed

    def load_images(self) -> tuple[Batch, Batch]:
        generator = torch.Generator().manual_seed(self.seed)
        shape = (self.num_images, self.num_channels, self.image_size, self.image_size)
        images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, self.num_classes, (self.num_images,), generator=generator)
        return (images, labels), (images[:256], labels[:256])


class PremadeBatches:
    """A fixed list of batches that Lightning iterates in order as one iterable, not as a list of loaders."""

    def __init__(self, batches: list[Batch]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class StepTimer(pl.Callback):
    """Times the training steps after the first ``warmup`` ones, data loading and augmentation included."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None
        self.steps = 0

    def _now(self, pl_module: pl.LightningModule) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx == self.warmup - 1:
            self.start = self._now(pl_module)
        elif batch_idx >= self.warmup:
            self.steps += 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.end = self._now(pl_module)

    def steps_per_second(self) -> float:
        return self.steps / (self.end - self.start)


def run_arm(args: argparse.Namespace, arm: str, datamodule: SyntheticImages, premade: list[Batch]) -> float:
    torch.manual_seed(args.seed)
    space = build_space("nb201", 3, 10, width=args.width)
    sampler = UniformSampler(space, seed=args.seed)
    module = SupernetModule(
        space.build_supernet(),
        num_classes=10,
        optimizer=functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=5e-4),
        channels_last=args.channels_last,
    )
    timer = StepTimer(args.warmup)
    trainer = pl.Trainer(
        accelerator=args.accelerator,
        devices=1,
        precision=args.precision,
        max_epochs=1,
        limit_train_batches=args.warmup + args.steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ArchitectureSamplingCallback(sampler), timer],
    )
    if arm == "pipeline":
        trainer.fit(module, datamodule=datamodule)
    else:
        trainer.fit(module, train_dataloaders=PremadeBatches(premade))
    return timer.steps_per_second()


def time_data_path(datamodule: SyntheticImages, count: int, device: torch.device) -> float:
    """Time slicing, moving, augmenting and normalising ``count`` batches with no model; return ms per batch."""
    batches = iter(datamodule.train_dataloader())
    start = time.perf_counter()
    for _ in range(count):
        images, labels = next(batches)
        images, labels = datamodule.transform_batch((images.to(device), labels.to(device)), training=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / count * 1e3


def make_premade(datamodule: SyntheticImages, count: int, device: torch.device, channels_last: bool) -> list[Batch]:
    images, labels = datamodule.images["train"], datamodule.labels["train"]
    batches = []
    for index in range(count):
        rows = torch.arange(index * datamodule.batch_size, (index + 1) * datamodule.batch_size) % len(images)
        batch = normalize(images[rows], datamodule.mean, datamodule.std).to(device)
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        batches.append((batch, labels[rows].to(device)))
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=16, help="search_space.width of the NB-201 supernet")
    parser.add_argument("--images", type=int, default=10000, help="training images held in memory")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per arm and round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds per arm")
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: PyTorch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    datamodule = SyntheticImages(
        args.images, seed=args.seed, batch_size=args.batch_size, val_fraction=0.1, crop_padding=4, horizontal_flip=True
    )
    datamodule.setup("fit")
    device = torch.device("cuda" if args.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available() else "cpu")
    premade = make_premade(datamodule, args.warmup + args.steps, device, args.channels_last)

    rates: dict[str, list[float]] = {"pipeline": [], "premade": []}
    for _ in range(args.repeats):
        for arm in rates:
            rates[arm].append(run_arm(args, arm, datamodule, premade))
            print(f"{arm:8s} {rates[arm][-1]:8.2f} steps/s")

    pipeline, reference = statistics.median(rates["pipeline"]), statistics.median(rates["premade"])
    print(
        f"device={device} threads={torch.get_num_threads()} batch={args.batch_size} width={args.width} "
        f"precision={args.precision} channels_last={args.channels_last}"
    )
    print(f"median steps/s: pipeline {pipeline:.2f}, premade {reference:.2f}; ratio {pipeline / reference:.3f}")
    data_ms = time_data_path(datamodule, args.steps, device)
    print(f"data path alone (slice, move, augment, normalise): {data_ms:.2f} ms per batch, or {data_ms * reference / 10:.1f}% of a premade step")


if __name__ == "__main__":
    main()
