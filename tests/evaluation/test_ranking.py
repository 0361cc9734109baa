import csv
import json
import math

import numpy as np
import pytest
import torch

from lightning_oneshot.errors import ConfigError
from lightning_oneshot.evaluation.cost import CostModel
from lightning_oneshot.evaluation.ranking import RankingWriter, read_ranking
from lightning_oneshot.evaluation.scorer import Scorer
from lightning_oneshot.evaluation.strategies import random_architectures


def test_rows_are_on_disk_before_finalize(tiny_space, tmp_path):
    path = tmp_path / "ranking.csv"
    writer = RankingWriter(path)
    arch = tiny_space.sample(np.random.default_rng(0))
    writer.add(arch, 0.5, 123)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 1
    assert rows[0]["hash"] == arch.hash
    assert rows[0]["rank"] == ""


def test_finalize_sorts_by_accuracy_and_fills_ranks(tiny_space, tmp_path):
    path = tmp_path / "ranking.csv"
    writer = RankingWriter(path)
    rng = np.random.default_rng(0)
    for accuracy in (0.2, 0.9, 0.5):
        writer.add(tiny_space.sample(rng), accuracy, 10)
    writer.finalize()
    entries = read_ranking(path)
    assert [entry.oneshot_val_accuracy for entry in entries] == [0.9, 0.5, 0.2]
    assert [entry.rank for entry in entries] == [1, 2, 3]
    assert json.loads((tmp_path / "ranking.json").read_text())[0]["oneshot_val_accuracy"] == 0.9


def test_architecture_column_round_trips(tiny_space, tmp_path):
    path = tmp_path / "ranking.csv"
    writer = RankingWriter(path)
    arch = tiny_space.sample(np.random.default_rng(4))
    writer.add(arch, 0.5, 1)
    writer.finalize()
    assert tiny_space.architecture(json.loads(read_ranking(path)[0].architecture)) == arch


def test_random_architectures_are_distinct_and_seeded(tiny_space):
    first = [arch.hash for arch in random_architectures(tiny_space, 30, seed=1)]
    second = [arch.hash for arch in random_architectures(tiny_space, 30, seed=1)]
    assert first == second
    assert len(set(first)) == 30


def test_random_architectures_cover_a_small_space(tiny_space):
    from lightning_oneshot.spaces import NB201Space

    small = NB201Space(in_channels=1, num_classes=10, num_nodes=3, ops=("none", "conv_3x3"))
    assert len({arch.hash for arch in random_architectures(small, 100, seed=0)}) == small.size() == 8


def test_standalone_parameters_match_built_network(tiny_space):
    arch = tiny_space.sample(np.random.default_rng(2))
    network = tiny_space.build_standalone(arch)
    assert CostModel(tiny_space, (1, 8, 8))(arch).params == sum(p.numel() for p in network.parameters())


def test_nan_score_is_recorded_as_failed(tiny_space, tmp_path):
    path = tmp_path / "ranking.csv"
    writer = RankingWriter(path)
    rng = np.random.default_rng(0)
    for accuracy in (0.2, float("nan"), 0.5):
        writer.add(tiny_space.sample(rng), accuracy, 10)
    writer.finalize()
    entries = read_ranking(path)
    assert [entry.status for entry in entries] == ["ok", "ok", "failed"]
    assert [entry.rank for entry in entries] == [1, 2, None]
    assert [entry.oneshot_val_accuracy for entry in entries[:2]] == [0.5, 0.2]


def test_resume_drops_half_written_row(tiny_space, tmp_path):
    path = tmp_path / "ranking.csv"
    writer = RankingWriter(path)
    first = tiny_space.sample(np.random.default_rng(0))
    writer.add(first, 0.5, 10)
    with path.open("a") as handle:
        handle.write(',abc,"{""edge_0_1')
    resumed = RankingWriter(path, resume=True)
    assert resumed.scored == {first.hash}
    second = tiny_space.sample(np.random.default_rng(1))
    resumed.add(second, 0.7, 10)
    assert [entry.hash for entry in read_ranking(path)] == [first.hash, second.hash]


def test_resume_rejects_malformed_middle_row(tiny_space, tmp_path):
    path = tmp_path / "ranking.csv"
    path.write_text("rank,hash,architecture,oneshot_val_accuracy,params,status\n,abc,{},not-a-number,1,ok\n")
    with pytest.raises(ConfigError, match="line 2 is not a valid ranking row"):
        RankingWriter(path, resume=True)


def test_scorer_returns_nan_for_non_finite_outputs(tiny_space, images):
    supernet = tiny_space.build_supernet()
    with torch.no_grad():
        next(supernet.parameters()).fill_(float("nan"))
    labels = torch.zeros(len(images), dtype=torch.long)
    scorer = Scorer(supernet, [(images, labels)], [(images, labels)])
    assert math.isnan(scorer.score(tiny_space.sample(np.random.default_rng(0))))
