"""Every search space end to end: train.py with both samplers, and retraining from the exported best architecture."""

import json

import pytest
import yaml

from conftest import compose_config, run_train
from lightning_oneshot import pipeline

SHARED = [
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
    "evaluation.num_samples=5",
    "evaluation.bn_batches=2",
    "retrain.max_epochs=1",
]

# Overrides that make a run of each space take seconds.
SPACES = {
    "chain": [
        "search_space=chain",
        "search_space.stem_width=4",
        "search_space.stage_widths=[4,8]",
        "search_space.stage_depths=[1,2]",
        "search_space.head_width=8",
        "search_space.stage_strides=[1,2]",
    ],
    "darts": [
        "search_space=darts",
        "search_space.width=4",
        "search_space.num_cells=3",
        "search_space.num_nodes=2",
        "search_space.stem_multiplier=1",
    ],
    "hierarchical": [
        "search_space=hierarchical",
        "search_space.width=4",
        "search_space.num_stages=1",
        "search_space.num_motifs=2",
        "search_space.motif_nodes=3",
        "search_space.level3_nodes=3",
    ],
    "fabric": [
        "search_space=fabric",
        "search_space.width=4",
        "search_space.num_layers=4",
        "search_space.num_scales=3",
    ],
}


def _check_summary(run_dir) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["stage_seconds"]) == {"search", "evaluate", "retrain"}
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    return summary


@pytest.fixture(scope="module", params=sorted(SPACES))
def uniform_run(request, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp(f"{request.param}_uniform")
    result = run_train(run_dir, *SPACES[request.param], *SHARED, "sampler=uniform")
    assert result.returncode == 0, result.stderr[-3000:]
    return request.param, run_dir


def test_uniform_run_writes_summary(uniform_run):
    _, run_dir = uniform_run
    _check_summary(run_dir)


def test_best_architecture_retrains_alone(uniform_run, tmp_path):
    # In-process, so the test does not pay for a second interpreter start; the subprocess runs cover train.py.
    name, run_dir = uniform_run
    best = run_dir / "best_architecture.yaml"
    cfg = compose_config(tmp_path, [*SPACES[name], *SHARED, "stage=retrain", f"retrain.architecture={best}"])
    summary = pipeline.run(cfg)
    assert (tmp_path / "summary.json").is_file()
    assert summary["best_architecture"] == yaml.safe_load(best.read_text())
    assert list(summary["stage_seconds"]) == ["retrain"]


@pytest.mark.parametrize("name", sorted(SPACES))
def test_droppath_run_writes_summary(name, tmp_path):
    result = run_train(tmp_path, *SPACES[name], *SHARED, "sampler=droppath")
    assert result.returncode == 0, result.stderr[-3000:]
    _check_summary(tmp_path)
    assert "all_ops" in result.stderr + result.stdout
