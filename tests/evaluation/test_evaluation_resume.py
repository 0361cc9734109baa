"""Resumable evaluation: a rerun in the same run folder skips scored architectures and ranks the same."""

import shutil

import pytest
import torch

from conftest import TINY_OVERRIDES, compose_config
from lightning_oneshot.errors import ConfigError
from lightning_oneshot.evaluation.ranking import read_ranking
from lightning_oneshot.evaluation.scorer import Scorer
from lightning_oneshot.pipeline import prepare, run

FAST = [*TINY_OVERRIDES, "dataset.batch_size=128", "search_space.num_stages=1", "sampler.num_val_architectures=1"]


@pytest.fixture(scope="module")
def supernet_ckpt(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("search")
    run(compose_config(run_dir, [*FAST, "stage=search"]))
    return run_dir / "supernet.ckpt"


def _evaluate_overrides(ckpt):
    return [*FAST, "stage=evaluate", f"evaluation.supernet_ckpt={ckpt}", "evaluation.num_samples=6"]


class Interrupted(RuntimeError):
    pass


def _count_scores(monkeypatch, fail_after=None):
    calls = []
    original = Scorer.score

    def score(self, arch):
        if fail_after is not None and len(calls) == fail_after:
            raise Interrupted("killed while scoring")
        calls.append(arch.hash)
        return original(self, arch)

    monkeypatch.setattr(Scorer, "score", score)
    return calls


@pytest.fixture(scope="module")
def uninterrupted(supernet_ckpt, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    run(compose_config(run_dir, _evaluate_overrides(supernet_ckpt)))
    return run_dir


def test_interrupted_evaluation_resumes_to_same_ranking(supernet_ckpt, uninterrupted, tmp_path, monkeypatch):
    overrides = _evaluate_overrides(supernet_ckpt)
    _count_scores(monkeypatch, fail_after=3)
    with pytest.raises(Interrupted):
        run(compose_config(tmp_path, overrides))
    with (tmp_path / "ranking.csv").open("a") as handle:
        handle.write('"",3f2a,"{""edge_0_1"": ""con')  # a row cut off by the kill

    monkeypatch.undo()
    calls = _count_scores(monkeypatch)
    run(compose_config(tmp_path, overrides))

    assert len(calls) == 3
    for name in ("ranking.csv", "ranking.json", "best_architecture.yaml"):
        assert (tmp_path / name).read_text() == (uninterrupted / name).read_text(), name


def test_finished_evaluation_rerun_scores_nothing(supernet_ckpt, uninterrupted, tmp_path, monkeypatch):
    shutil.copytree(uninterrupted, tmp_path, dirs_exist_ok=True)
    calls = _count_scores(monkeypatch)
    run(compose_config(tmp_path, _evaluate_overrides(supernet_ckpt)))
    assert calls == []
    assert (tmp_path / "ranking.csv").read_text() == (uninterrupted / "ranking.csv").read_text()


def test_resume_rejects_ranking_of_other_supernet(supernet_ckpt, uninterrupted, tmp_path):
    shutil.copytree(uninterrupted, tmp_path, dirs_exist_ok=True)
    checkpoint = torch.load(supernet_ckpt, weights_only=True)
    name = next(key for key in checkpoint["state_dict"] if key.endswith("weight"))
    checkpoint["state_dict"][name] += 1.0
    other = tmp_path / "other.ckpt"
    torch.save(checkpoint, other)

    overrides = [*_evaluate_overrides(supernet_ckpt)[:-2], f"evaluation.supernet_ckpt={other}"]
    with pytest.raises(ConfigError) as error:
        prepare(compose_config(tmp_path, overrides))
    message = str(error.value)
    assert "evaluation.resume" in message
    assert "supernet_weights_sha256" in message
    assert "evaluation.resume=false" in message


def test_resume_false_scores_again(supernet_ckpt, uninterrupted, tmp_path, monkeypatch):
    shutil.copytree(uninterrupted, tmp_path, dirs_exist_ok=True)
    calls = _count_scores(monkeypatch)
    run(compose_config(tmp_path, [*_evaluate_overrides(supernet_ckpt), "evaluation.resume=false"]))
    assert len(calls) == 6
    assert [entry.hash for entry in read_ranking(tmp_path / "ranking.csv")] == [
        entry.hash for entry in read_ranking(uninterrupted / "ranking.csv")
    ]
