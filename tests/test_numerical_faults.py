"""A NaN loss or NaN weights stop the search with a clear message and keep the last good checkpoint."""

import pytest
import torch

from conftest import TINY_OVERRIDES, compose_config, run_train
from lightning_oneshot.modules import NonFiniteLossError, NonFiniteWeightsError
from lightning_oneshot.pipeline import run

SEARCH = [
    *TINY_OVERRIDES,
    "stage=search",
    "dataset.batch_size=128",
    "search_space.num_stages=1",
    "sampler.num_val_architectures=1",
    "checkpoint.every_n_train_steps=1",
    "+callbacks.nan._target_=conftest.InjectNonFinite",
    "+callbacks.nan.step=4",
]


def _last_checkpoint(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def _all_finite(checkpoint):
    return all(torch.isfinite(tensor).all() for tensor in checkpoint["state_dict"].values() if tensor.is_floating_point())


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError) as error:
        run(compose_config(tmp_path, SEARCH))
    message = str(error.value)
    assert "global step 4" in message
    assert "'edge_0_1': [" in message
    assert "optimizer.lr" in message

    checkpoint = _last_checkpoint(tmp_path)
    assert checkpoint["global_step"] == 4
    assert _all_finite(checkpoint)
    assert not (tmp_path / "supernet.ckpt").exists()


def test_nan_weights_are_never_saved(tmp_path):
    with pytest.raises(NonFiniteWeightsError, match="no checkpoint was saved"):
        run(compose_config(tmp_path, [*SEARCH, "+callbacks.nan.when=end"]))
    checkpoint = _last_checkpoint(tmp_path)
    assert checkpoint["global_step"] == 4
    assert _all_finite(checkpoint)
    assert list((tmp_path / "checkpoints").glob("*.tmp")) == []


def test_cli_exits_with_status_3_on_nan_loss(tmp_path):
    result = run_train(tmp_path, *SEARCH)
    output = result.stderr + result.stdout
    assert result.returncode == 3, output[-3000:]
    assert "Training loss is nan at global step 4" in output
    assert "The last checkpoint with finite weights is" in output
    assert "Traceback" not in output
