"""Shared fixtures: a tiny search space, the digits data, and composed Hydra configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from lightning_oneshot.spaces import NB201Space

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
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "train.py"), *(["-m"] if multirun else []), f"hydra.run.dir={run_dir}", *overrides],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
