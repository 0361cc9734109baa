"""A short GPU check: supernet training steps per second and peak GPU memory, with bf16 mixed precision.

Runs the NB-201 supernet (uniform single path) on synthetic CIFAR-sized batches. On one GPU it runs with
``32-true`` and ``bf16-mixed``; with two or more GPUs it also runs DDP on two of them. It takes well under
5 minutes on a recent GPU.

    python benchmarks/gpu_check.py                 # needs CUDA
    python benchmarks/gpu_check.py --allow-cpu     # a smoke run of the same code on the CPU
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_oneshot.callbacks import ArchitectureSamplingCallback
from lightning_oneshot.distributed import search_strategy
from lightning_oneshot.modules import SupernetModule
from lightning_oneshot.samplers import UniformSampler
from lightning_oneshot.spaces import NB201Space

log = logging.getLogger(__name__)


class StepTimer(pl.Callback):
    """Steps per second after ``warmup`` steps, timed between batch starts with device synchronisation."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.steps = 0

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self._sync()
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self._sync()
        self.steps = trainer.global_step - self.warmup
        self.elapsed = time.perf_counter() - self.start


def run(accelerator: str, devices: int, precision: str, args) -> dict:
    pl.seed_everything(0)
    space = NB201Space(3, 10, width=args.width, cells_per_stage=args.cells_per_stage)
    module = SupernetModule(
        space.build_supernet(),
        num_classes=10,
        optimizer=lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4),
        space_description=space.describe(),
    )

    images = torch.randn(args.batch_size * 8, 3, 32, 32)
    labels = torch.randint(0, 10, (len(images),))
    loader = DataLoader(TensorDataset(images, labels), batch_size=args.batch_size, shuffle=True, drop_last=True)

    timer = StepTimer(args.warmup)
    strategy = search_strategy(_strategy_config(devices))
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        precision=precision,
        max_steps=args.warmup + args.steps,
        callbacks=[ArchitectureSamplingCallback(UniformSampler(space, seed=0)), timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, loader)

    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
    return {
        "devices": devices,
        "precision": precision,
        "steps_per_second": round(timer.steps / timer.elapsed, 2),
        "peak_memory_mib": round(peak, 1),
        "rank": trainer.global_rank,
    }


def _strategy_config(devices: int):
    from omegaconf import OmegaConf

    return OmegaConf.create({"strategy": "ddp" if devices > 1 else "auto"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when no GPU is present")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--cells-per-stage", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()

    gpus = torch.cuda.device_count()
    if gpus == 0 and not args.allow_cpu:
        raise SystemExit("No CUDA device found. Pass --allow-cpu for a smoke run on the CPU.")
    accelerator = "gpu" if gpus else "cpu"
    if gpus:
        print(f"GPU: {torch.cuda.get_device_name(0)} x {gpus}, torch {torch.__version__}")

    runs = [(1, "32-true"), (1, "bf16-mixed")]
    if gpus >= 2:
        runs.append((2, "bf16-mixed"))
    for devices, precision in runs:
        result = run(accelerator, devices, precision, args)
        if result["rank"] == 0:
            print(json.dumps(result))


if __name__ == "__main__":
    main()
