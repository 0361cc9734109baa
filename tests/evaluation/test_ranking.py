import csv
import json

import numpy as np

from lightning_oneshot.evaluation.ranking import RankingWriter, read_ranking, standalone_parameters
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
    assert standalone_parameters(tiny_space, arch) == sum(p.numel() for p in network.parameters())
