"""Checks on the composed config that run before any data is loaded or any model is built.

Hydra already rejects unknown group options and unknown keys. These checks cover values: types, ranges
and choices, with messages that name the key, the bad value and what is allowed.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from lightning_oneshot.errors import ConfigError

STAGES = ("all", "search", "evaluate", "retrain")


def _value(cfg: DictConfig, key: str):
    return OmegaConf.select(cfg, key, default=None)


def _require_int(cfg: DictConfig, key: str, minimum: int) -> None:
    value = _value(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}.")


def _require_fraction(cfg: DictConfig, key: str) -> None:
    value = _value(cfg, key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key} must be a number in [0, 1], got {value!r}.")


def check_config(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` for the first value that cannot work."""
    stage = _value(cfg, "stage")
    if stage not in STAGES:
        raise ConfigError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}.")
    _require_int(cfg, "seed", 0)
    _require_int(cfg, "trainer.max_epochs", 1)
    _require_int(cfg, "dataset.batch_size", 1)
    _require_int(cfg, "evaluation.num_samples", 1)
    _require_int(cfg, "evaluation.bn_batches", 0)
    _require_int(cfg, "evaluation.batch_size", 1)
    _require_int(cfg, "retrain.max_epochs", 1)
    _require_fraction(cfg, "sampler.drop_prob")
    channels_last = _value(cfg, "channels_last")
    if channels_last is not None and not isinstance(channels_last, bool):
        raise ConfigError(f"channels_last must be true or false, got {channels_last!r}.")

    lr = _value(cfg, "optimizer.lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise ConfigError(f"optimizer.lr must be a positive number, got {lr!r}.")
