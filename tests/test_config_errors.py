"""Bad input stops the run before any training, with a message that names the key, the value and the choices."""

import pytest

from conftest import TINY_OVERRIDES, compose_config, run_train
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
        ("dataset=cifar10 dataset.val_fraction=1.5", "dataset: dataset.val_fraction must be a number in (0, 1), got 1.5"),
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
    with pytest.raises(ConfigError, match=r"search_space: search_space.ops: unknown operations \['conv_9x9'\]. Allowed operations: none, skip_connect"):
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
