"""End-to-end runs of train.py on every real dataset, with tiny generated files and no network."""

import json
import sys
from types import SimpleNamespace

import pytest
import yaml

from conftest import REPO_ROOT, run_train

sys.path.insert(0, str(REPO_ROOT / "tests" / "data"))
from dataset_files import WRITERS  # noqa: E402

DATASETS = ["cifar10", "cifar100", "mnist", "fashion_mnist", "svhn"]
FAST = [
    "trainer.max_epochs=1",
    "evaluation.num_samples=3",
    "evaluation.bn_batches=1",
    "retrain.max_epochs=1",
    "search_space.width=4",
    "trainer.enable_progress_bar=false",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> SimpleNamespace:
    """One multirun over all datasets, to pay the interpreter start-up once: each dataset's run folder and the output."""
    root = tmp_path_factory.mktemp("data")
    for writer in WRITERS.values():
        writer(root, train=16, test=8)
    sweep_dir = tmp_path_factory.mktemp("sweep")
    # A sweep over the dataset group composes its config once with the digits default, which has no
    # root key, so the dataset keys need Hydra's add-or-override prefix "++" here.
    result = run_train(
        sweep_dir / "unused",
        "hydra.mode=MULTIRUN",
        f"dataset={','.join(DATASETS)}",
        f"++dataset.root={root}",
        "++dataset.verify_checksums=false",
        f"hydra.sweep.dir={sweep_dir}",
        *FAST,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = {}
    for run_dir in (path for path in sweep_dir.iterdir() if path.is_dir()):
        overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
        dataset = next(item.split("=", 1)[1] for item in overrides if item.startswith("dataset="))
        runs[dataset] = run_dir
    return SimpleNamespace(runs=runs, output=result.stdout + result.stderr)


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_runs_every_stage(sweep, dataset):
    run_dir = sweep.runs[dataset]
    for name in ("supernet.ckpt", "ranking.csv", "best_architecture.yaml", "retrained.ckpt", "summary.json"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["num_scored"] == 3
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["retrain_val_accuracy"] is None  # Retraining uses the validation images for training.


def test_dataset_run_logs_split_sizes(sweep):
    expected = "CIFAR-10 splits: search train 8, validation 8 (seed 0); retrain on all 16 training images; test 8."
    assert expected in sweep.output


def test_empty_root_stops_before_training(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    run_dir = tmp_path / "run"
    result = run_train(run_dir, "dataset=cifar10", f"dataset.root={root}", "dataset.verify_checksums=false", *FAST)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert f"CIFAR-10 files not found in {root}" in output
    assert "cifar-10-batches-py/data_batch_1" in output
    assert "dataset.download=true" in output
    assert not (run_dir / "supernet.ckpt").exists()
    assert not (run_dir / "checkpoints").exists()
