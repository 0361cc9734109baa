"""An online W&B logger without network or API key stops the run at once; nothing leaves this machine."""

import socket
import time

import pytest
import wandb

from conftest import assert_no_training, compose_config
from lightning_oneshot.errors import ConfigError
from lightning_oneshot.pipeline import prepare

FAKE_API_KEY = "0" * 40
ONLINE = ["logger=wandb", "logger.offline=false"]


def _closed_loopback_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Point W&B at a closed loopback port with no stored key, and fail if wandb.init is ever reached."""
    monkeypatch.setenv("WANDB_BASE_URL", _closed_loopback_url())
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))

    def reject_init(*args, **kwargs):
        raise AssertionError("wandb.init must not be called")

    monkeypatch.setattr(wandb, "init", reject_init)


def test_unreachable_server_fails_fast(no_network, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", FAKE_API_KEY)
    start = time.monotonic()
    with pytest.raises(ConfigError) as error:
        prepare(compose_config(tmp_path, ONLINE))
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert "cannot be reached" in message
    assert "127.0.0.1" in message
    assert "logger.offline=true" in message
    assert_no_training(tmp_path)


def test_missing_api_key_suggests_offline(no_network, tmp_path):
    with pytest.raises(ConfigError) as error:
        prepare(compose_config(tmp_path, ONLINE))
    message = str(error.value)
    assert "no W&B API key" in message
    assert "WANDB_API_KEY" in message
    assert "logger.offline=true" in message
    assert_no_training(tmp_path)


def test_offline_mode_skips_the_check(no_network, tmp_path):
    context = prepare(compose_config(tmp_path, ["logger=wandb"]))
    assert context.sampler is not None
