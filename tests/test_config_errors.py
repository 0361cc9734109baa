"""Bad input stops the run before any training, with a message that names the key, the value and the choices."""

import re

import pytest
import torch
from hydra.errors import MissingConfigException

from conftest import TINY_OVERRIDES, assert_no_training, compose_config, run_train
from lightning_oneshot.errors import ConfigError
from lightning_oneshot.pipeline import prepare


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("evaluation.num_samples=0", "evaluation.num_samples must be an integer >= 1, got 0"),
        ("dataset.batch_size=0", "dataset.batch_size must be an integer >= 1, got 0"),
        ("trainer.max_epochs=abc", "trainer.max_epochs must be an integer >= 1, got 'abc'"),
        ("stage=everything", "stage must be one of all, search, evaluate, retrain; got 'everything'"),
        ("channels_last=maybe", "channels_last must be true or false, got 'maybe'"),
        ("dataset=cifar10 dataset.root=/ dataset.val_fraction=1.5", "dataset.val_fraction must be a number in (0, 1), got 1.5"),
    ],
)
def test_config_values_are_checked(tmp_path, override, expected):
    cfg = compose_config(tmp_path, override.split())
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        prepare(cfg)


@pytest.mark.parametrize("sampler", ["uniform", "droppath"])
def test_default_config_prepares_without_training(tmp_path, sampler):
    context = prepare(compose_config(tmp_path, [f"sampler={sampler}"]))
    assert context.sampler.name == sampler
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize("drop_prob", ["-0.1", "1.5"])
def test_drop_prob_range_is_checked(tmp_path, drop_prob):
    cfg = compose_config(tmp_path, ["sampler=droppath", f"sampler.drop_prob={drop_prob}"])
    with pytest.raises(ConfigError, match=f"sampler.drop_prob must be a number in \\[0, 1\\], got {drop_prob}"):
        prepare(cfg)


def test_unknown_op_names_the_key_and_choices(tmp_path):
    cfg = compose_config(tmp_path, ["search_space.ops=[none,conv_9x9]"])
    with pytest.raises(ConfigError, match=r"search_space.ops: unknown operations \['conv_9x9'\]. Allowed operations: none, skip_connect"):
        prepare(cfg)


def test_missing_supernet_checkpoint_is_named(tmp_path):
    cfg = compose_config(tmp_path, ["stage=evaluate"])
    with pytest.raises(ConfigError, match="evaluation.supernet_ckpt: file not found: .*supernet.ckpt"):
        prepare(cfg)


def test_corrupt_checkpoint_is_reported(tmp_path):
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint")
    cfg = compose_config(tmp_path, ["stage=evaluate", f"evaluation.supernet_ckpt={broken}"])
    with pytest.raises(ConfigError, match="cannot read checkpoint"):
        prepare(cfg)


def test_malformed_architecture_file_is_named(tmp_path):
    path = tmp_path / "arch.yaml"
    path.write_text("edge_0_1: conv_3x3\nedge_7_8: none\n")
    cfg = compose_config(tmp_path, ["stage=retrain", f"retrain.architecture={path}"])
    with pytest.raises(ConfigError) as error:
        prepare(cfg)
    message = str(error.value)
    assert "retrain.architecture" in message
    assert "unknown edges: 'edge_7_8'" in message
    assert "missing edges: 'edge_0_2'" in message


def test_cli_exits_before_training_on_bad_value(tmp_path):
    result = run_train(tmp_path, *TINY_OVERRIDES, "evaluation.num_samples=-3")
    assert result.returncode == 2
    assert "evaluation.num_samples must be an integer >= 1, got -3" in result.stderr + result.stdout
    assert not (tmp_path / "checkpoints").exists()
    assert not (tmp_path / "supernet.ckpt").exists()


def test_cli_unknown_group_option_lists_choices(tmp_path):
    result = run_train(tmp_path, "sampler=random_walk")
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "sampler/random_walk" in output
    assert "droppath" in output
    assert "uniform" in output


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("search_space=nb999", "search_space/nb999"),
        ("sampler=random_walk", "sampler/random_walk"),
        ("dataset=imagenet9", "dataset/imagenet9"),
    ],
)
def test_unknown_group_option_is_rejected_in_process(tmp_path, override, expected):
    with pytest.raises(MissingConfigException) as error:
        compose_config(tmp_path, [override])
    assert expected in str(error.value)
    assert_no_training(tmp_path)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("evaluation.num_samples=-1", "evaluation.num_samples must be an integer >= 1, got -1"),
        ("evaluation.batch_size=0", "evaluation.batch_size must be an integer >= 1, got 0"),
        ("checkpoint.every_n_train_steps=0", "checkpoint.every_n_train_steps must be an integer >= 1, got 0"),
    ],
)
def test_more_config_values_are_checked(tmp_path, override, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        prepare(compose_config(tmp_path, [override]))
    assert_no_training(tmp_path)


def _retrain_error(tmp_path, text, *overrides):
    path = tmp_path / "arch.yaml"
    path.write_text(text)
    cfg = compose_config(tmp_path, ["stage=retrain", f"retrain.architecture={path}", *overrides])
    with pytest.raises(ConfigError) as error:
        prepare(cfg)
    assert_no_training(tmp_path)
    return str(error.value)


def test_architecture_op_outside_space_lists_allowed(tmp_path):
    text = "edge_0_1: conv_5x5\nedge_0_2: none\nedge_1_2: none\nedge_0_3: none\nedge_1_3: none\nedge_2_3: none\n"
    message = _retrain_error(tmp_path, text)
    assert "retrain.architecture" in message
    assert "unknown operation 'conv_5x5'" in message
    assert "'avg_pool_3x3'" in message


def test_architecture_matrix_of_wrong_shape_is_named(tmp_path):
    message = _retrain_error(tmp_path, "[[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]\n")
    assert "shape (2, 5), expected (6, 5)" in message
    assert "'edge_0_1'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[1, 0], [0, 1, 0]]\n", "not rectangular"),
        ("[" + ", ".join(["[2, 0, 0, 0, 0]"] * 6) + "]\n", "must be binary (0 or 1), found values [2.0]"),
        ("[" + ", ".join(["[1, 1, 0, 0, 0]"] * 6) + "]\n", "has 2 active operations"),
    ],
)
def test_malformed_architecture_matrix_is_rejected(tmp_path, text, expected):
    assert expected in _retrain_error(tmp_path, text)


def test_disconnected_cell_fails_space_validation(tmp_path):
    text = "edge_0_1: conv_3x3\nedge_0_2: none\nedge_1_2: none\nedge_0_3: none\nedge_1_3: none\nedge_2_3: conv_3x3\n"
    message = _retrain_error(tmp_path, text, "search_space._target_=conftest.ConnectedCellSpace")
    assert "retrain.architecture" in message
    assert "disconnected" in message


def test_checkpoint_from_other_op_list_names_difference(tmp_path):
    context = prepare(compose_config(tmp_path, []))
    description = {**context.space.describe(), "ops": ["none", "conv_3x3"]}
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "search_space": description}, path)
    with pytest.raises(ConfigError) as error:
        prepare(compose_config(tmp_path, ["stage=search", f"ckpt_path={path}"]))
    message = str(error.value)
    assert "ckpt_path" in message
    assert "ops: checkpoint ['none', 'conv_3x3']" in message
    assert "name:" not in message
    assert_no_training(tmp_path)


def test_checkpoint_from_other_search_space_names_it(tmp_path):
    context = prepare(compose_config(tmp_path, []))
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "search_space": {**context.space.describe(), "name": "darts"}}, path)
    with pytest.raises(ConfigError, match="name: checkpoint 'darts', config 'nb201'"):
        prepare(compose_config(tmp_path, ["stage=evaluate", f"evaluation.supernet_ckpt={path}"]))
    assert_no_training(tmp_path)


def test_missing_resume_checkpoint_is_named(tmp_path):
    with pytest.raises(ConfigError, match="ckpt_path: file not found: .*last.ckpt"):
        prepare(compose_config(tmp_path, ["stage=search", f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}"]))
    assert_no_training(tmp_path)


def test_truncated_checkpoint_is_reported(tmp_path):
    context = prepare(compose_config(tmp_path, []))
    whole = tmp_path / "whole.ckpt"
    torch.save({"state_dict": context.space.build_supernet().state_dict(), "search_space": context.space.describe()}, whole)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ConfigError) as error:
        prepare(compose_config(tmp_path, ["stage=search", f"ckpt_path={truncated}"]))
    message = str(error.value)
    assert "ckpt_path: cannot read checkpoint" in message
    assert "truncated" in message
    assert_no_training(tmp_path)


def test_missing_dataset_root_is_named(tmp_path):
    missing = tmp_path / "no-such-data"
    with pytest.raises(ConfigError, match=f"dataset.root: folder not found: {re.escape(str(missing))}"):
        prepare(compose_config(tmp_path, [f"+dataset.root={missing}"]))
    assert_no_training(tmp_path)


def test_resume_with_other_sampler_is_rejected(tmp_path):
    context = prepare(compose_config(tmp_path, []))
    path = tmp_path / "droppath.ckpt"
    callbacks = {"ArchitectureSamplingCallback": {"name": "droppath", "seed": 0, "last_step": 3}}
    torch.save({"state_dict": {}, "search_space": context.space.describe(), "callbacks": callbacks}, path)
    with pytest.raises(ConfigError, match="sampler 'droppath', but sampler='uniform' is configured"):
        prepare(compose_config(tmp_path, ["stage=search", f"ckpt_path={path}"]))
    assert_no_training(tmp_path)


def test_unknown_constructor_key_is_a_config_error(tmp_path):
    cfg = compose_config(tmp_path, ["+search_space.widht=8"])
    with pytest.raises(ConfigError, match="search_space: .*unexpected keyword argument 'widht'"):
        prepare(cfg)
