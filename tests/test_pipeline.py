"""End-to-end runs of train.py and the pipeline's stage hand-offs."""

import csv
import json

import pytest
import yaml

from conftest import TINY_OVERRIDES, run_train


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    result = run_train(run_dir, *TINY_OVERRIDES)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_full_run_writes_every_file(full_run):
    for name in ("supernet.ckpt", "ranking.csv", "ranking.json", "best_architecture.yaml", "retrained.ckpt", "summary.json"):
        assert (full_run / name).is_file(), name


def test_summary_has_the_documented_keys(full_run):
    summary = json.loads((full_run / "summary.json").read_text())
    for key in ("best_architecture", "oneshot_val_accuracy", "retrain_val_accuracy", "test_accuracy", "test_error", "params", "stage_seconds"):
        assert key in summary, key
    assert summary["test_error"] == pytest.approx(1 - summary["test_accuracy"])
    assert set(summary["stage_seconds"]) == {"search", "evaluate", "retrain"}


def test_ranking_has_distinct_ranked_architectures(full_run):
    rows = list(csv.DictReader((full_run / "ranking.csv").open()))
    assert len(rows) == 4
    assert len({row["hash"] for row in rows}) == 4
    assert [int(row["rank"]) for row in rows] == [1, 2, 3, 4]
    accuracies = [float(row["oneshot_val_accuracy"]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True)


def test_best_architecture_file_is_the_top_row(full_run):
    best = yaml.safe_load((full_run / "best_architecture.yaml").read_text())
    top = next(csv.DictReader((full_run / "ranking.csv").open()))
    assert best == json.loads(top["architecture"])


def test_evaluate_twice_gives_the_same_ranking(full_run, tmp_path):
    rankings = []
    for name in ("first", "second"):
        result = run_train(tmp_path / name, *TINY_OVERRIDES, "stage=evaluate", f"evaluation.supernet_ckpt={full_run / 'supernet.ckpt'}")
        assert result.returncode == 0, result.stderr[-3000:]
        rankings.append((tmp_path / name / "ranking.csv").read_text())
    assert rankings[0] == rankings[1]


def test_retrain_from_an_architecture_file(full_run, tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, "stage=retrain", f"retrain.architecture={full_run / 'best_architecture.yaml'}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best_architecture"] == yaml.safe_load((full_run / "best_architecture.yaml").read_text())
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert list(summary["stage_seconds"]) == ["retrain"]


def test_droppath_run_finishes(tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, "sampler=droppath", "sampler.drop_prob=0.3", "stage=search")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "supernet.ckpt").is_file()
    assert "all_ops" in result.stderr + result.stdout


def test_wandb_offline_logs_each_stage(tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, "logger=wandb")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 3
    assert all(any(run.glob("*.wandb")) for run in runs)


def test_wandb_resume_continues_the_same_run(tmp_path):
    first = run_train(tmp_path, *TINY_OVERRIDES, "logger=wandb", "stage=search")
    assert first.returncode == 0, first.stderr[-3000:]
    [initial] = list((tmp_path / "wandb").glob("offline-run-*"))
    run_id = initial.name.rsplit("-", 1)[-1]

    resumed = run_train(
        tmp_path, *TINY_OVERRIDES, "logger=wandb", "stage=search", "trainer.max_epochs=2",
        f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}",
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    assert all(run.name.endswith(f"-{run_id}") for run in runs)


def test_resolved_config_is_saved(full_run):
    saved = yaml.safe_load((full_run / "config_resolved.yaml").read_text())
    assert saved["paths"]["output_dir"] == str(full_run)
    assert saved["evaluation"]["num_samples"] == 4


@pytest.mark.parametrize("strategy", ["exhaustive", "evolution"])
def test_search_strategy_runs_end_to_end(tmp_path, strategy):
    result = run_train(
        tmp_path, *TINY_OVERRIDES, f"evaluation={strategy}", "evaluation.num_samples=12",
        "search_space.num_nodes=3", "search_space.ops=[none,skip_connect,conv_3x3]", "retrain.top_k=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = list(csv.DictReader((tmp_path / "ranking.csv").open()))
    assert summary["search_strategy"] == strategy
    assert len(rows) == (27 if strategy == "exhaustive" else 12)
    assert all(int(row["flops"]) > 0 for row in rows)
    assert len(summary["retrained"]) == 2
    assert summary["retrain_val_accuracy"] == max(run["retrain_val_accuracy"] for run in summary["retrained"])
    assert (tmp_path / "ranking.png").stat().st_size > 0


def test_parameter_limit_is_respected(tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, "evaluation.num_samples=8", "evaluation.max_params=5000", "stage=all")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "ranking.csv").open()))
    assert len(rows) == 8
    assert all(int(row["params"]) <= 5000 for row in rows)


def test_exhaustive_on_a_large_space_stops_before_training(tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, "evaluation=exhaustive", "evaluation.strategy.max_architectures=1000")
    assert result.returncode == 2
    assert "15,625 architectures, more than evaluation.strategy.max_architectures=1,000" in result.stderr + result.stdout
    assert not (tmp_path / "supernet.ckpt").exists()
