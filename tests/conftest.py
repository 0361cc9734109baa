"""Shared fixtures: a tiny search space, the digits data, and composed Hydra configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import json

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir

from lightning_oneshot.spaces import ArchitectureError, NB201Space

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "conf"

# Settings that make a full run take seconds.
TINY_OVERRIDES = [
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "evaluation.num_samples=4",
    "evaluation.bn_batches=2",
    "retrain.max_epochs=1",
    "search_space.width=4",
]


@pytest.fixture
def tiny_space() -> NB201Space:
    return NB201Space(in_channels=1, num_classes=10, width=4, num_stages=2, cells_per_stage=1)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def compose_config(output_dir: Path, overrides: list[str] = ()):
    """Compose conf/config.yaml as train.py would, with the run folder set to ``output_dir``."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=[f"paths.output_dir={output_dir}", *overrides])


def run_train(run_dir: Path, *overrides: str, timeout: float = 300, multirun: bool = False) -> subprocess.CompletedProcess:
    """Run train.py in a subprocess with the run folder at ``run_dir`` (or as a Hydra multirun)."""
    # tests/ goes on the path so that configs can name the callbacks below as conftest.<name>.
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": python_path,
    }
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "train.py"), *(["-m"] if multirun else []), f"hydra.run.dir={run_dir}", *overrides],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Preempted(RuntimeError):
    """Stands in for a job killed by the cluster."""


class InterruptAtStep(pl.Callback):
    """Stops training with ``Preempted`` before the batch of global step ``step`` runs."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise Preempted(f"interrupted before global step {self.step}")


class StepRecorder(pl.Callback):
    """Appends one JSON line per training step: the batch, the mask and the learning rate that it used."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        x, y = batch
        record = {
            "step": trainer.global_step - 1,
            "labels": y.tolist(),
            "pixel_sum": float(x.double().sum()),
            "mask": pl_module.supernet.mask.int().tolist(),
            "lr": trainer.optimizers[0].param_groups[0]["lr"],
        }
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def read_steps(path: Path) -> dict[int, dict]:
    return {record["step"]: record for record in map(json.loads, path.read_text().splitlines())}


class InjectNonFinite(pl.Callback):
    """Writes NaN into the first supernet weight at global step ``step``.

    With ``when="start"`` the NaN is written before the batch runs, so its loss is NaN. With ``when="end"``
    it is written after the optimizer step, before the checkpoint callback saves.
    """

    def __init__(self, step: int, when: str = "start") -> None:
        self.step = step
        self.when = when

    def _poison(self, pl_module) -> None:
        with torch.no_grad():
            next(pl_module.supernet.parameters()).fill_(float("nan"))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.when == "start" and trainer.global_step == self.step:
            self._poison(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.when == "end" and trainer.global_step - 1 == self.step:
            self._poison(pl_module)


def assert_no_training(run_dir: Path) -> None:
    """Check that a run stopped before training: no checkpoint in the run folder."""
    assert not (run_dir / "checkpoints").exists()
    assert not (run_dir / "supernet.ckpt").exists()


class ConnectedCellSpace(NB201Space):
    """An NB201 space with one extra rule, as DARTS and fabric spaces have: the cell output must be reachable
    from the cell input through operations other than ``none``."""

    name = "nb201_connected"

    def validate(self, arch):
        super().validate(arch)
        reached = {0}
        for target in range(1, self.num_nodes):
            for source in range(target):
                if source in reached and arch.active_ops(f"edge_{source}_{target}") != ["none"]:
                    reached.add(target)
        if self.num_nodes - 1 not in reached:
            raise ArchitectureError(
                f"The cell output (node {self.num_nodes - 1}) is disconnected from the input: every path uses 'none'."
            )
