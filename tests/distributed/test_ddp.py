"""DDP on 2 CPU processes (gloo): mask agreement, weight agreement, unpadded evaluation, W&B runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY_OVERRIDES, compose_config, run_train
from lightning_oneshot.errors import ConfigError
from lightning_oneshot.pipeline import prepare

pytestmark = pytest.mark.slow

DDP_OVERRIDES = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]


@pytest.fixture(scope="module")
def probe_results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("probe")
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1"}
    script = Path(__file__).with_name("ddp_probe.py")
    result = subprocess.run([sys.executable, str(script), str(out_dir)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads((out_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]


def test_masks_are_identical_on_every_rank(probe_results):
    first, second = probe_results
    assert len(first["masks"]) == 6
    assert first["masks"] == second["masks"]


def test_masks_change_between_steps(probe_results):
    masks = probe_results[0]["masks"]
    assert len({json.dumps(mask) for mask in masks}) > 1


def test_weights_are_identical_on_every_rank(probe_results):
    first, second = probe_results
    assert first["checksums"] == second["checksums"]


def test_inactive_ops_keep_weights_under_ddp(probe_results):
    for result in probe_results:
        assert all(result["inactive_unchanged"])


def test_static_graph_is_rejected(tmp_path):
    overrides = ["+trainer.strategy._target_=pytorch_lightning.strategies.DDPStrategy", "+trainer.strategy.static_graph=true"]
    cfg = compose_config(tmp_path, ["trainer=ddp", "~trainer.strategy", *overrides])
    with pytest.raises(ConfigError, match="static_graph=true cannot train a supernet"):
        prepare(cfg)


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("single")
    result = run_train(run_dir, *TINY_OVERRIDES, "stage=search")
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def test_distributed_ranking_equals_single_process(single_process_run, tmp_path):
    checkpoint = single_process_run / "supernet.ckpt"
    rankings = {}
    for devices in (1, 2):
        run_dir = tmp_path / f"devices{devices}"
        result = run_train(
            run_dir,
            *TINY_OVERRIDES,
            *DDP_OVERRIDES[:2],
            f"trainer.devices={devices}",
            "stage=evaluate",
            "evaluation.num_samples=5",
            f"evaluation.supernet_ckpt={checkpoint}",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        rankings[devices] = (run_dir / "ranking.csv").read_text()
    assert rankings[1] == rankings[2]


def test_ddp_pipeline_writes_one_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    result = run_train(run_dir, *TINY_OVERRIDES, *DDP_OVERRIDES, "logger=wandb", "evaluation.num_samples=6")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "summary.json").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    wandb_runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 3
    assert (run_dir / "config_resolved.yaml").is_file()


def test_multirun_with_relaunching_ddp_is_rejected(tmp_path):
    result = run_train(tmp_path / "run", *DDP_OVERRIDES, "seed=0", f"hydra.sweep.dir={tmp_path / 'sweep'}", multirun=True)
    assert result.returncode == 2
    assert "cannot run inside a Hydra multirun" in result.stderr + result.stdout
    assert not list((tmp_path / "sweep").glob("*/supernet.ckpt"))


def test_ddp_strategy_on_one_device_trains(tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, *DDP_OVERRIDES[:2], "trainer.devices=1", "stage=search")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "supernet.ckpt").is_file()
