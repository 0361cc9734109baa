"""Checks on the composed config that run before any data is loaded or any model is built.

Hydra already rejects unknown group options and unknown keys. These checks cover values: types, ranges
and choices, with messages that name the key, the bad value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lightning_oneshot.errors import ConfigError

STAGES = ("all", "search", "evaluate", "retrain")


def _value(cfg: DictConfig, key: str):
    return OmegaConf.select(cfg, key, default=None)


def _require_int(cfg: DictConfig, key: str, minimum: int) -> None:
    value = _value(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}.")


def _require_optional_int(cfg: DictConfig, key: str, minimum: int) -> None:
    if _value(cfg, key) is not None:
        _require_int(cfg, key, minimum)


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
    _require_int(cfg, "retrain.top_k", 1)
    _require_optional_int(cfg, "evaluation.max_params", 1)
    _require_optional_int(cfg, "evaluation.max_flops", 1)
    _require_optional_int(cfg, "checkpoint.every_n_train_steps", 1)
    _require_fraction(cfg, "sampler.drop_prob")
    _check_dataset_root(cfg)
    channels_last = _value(cfg, "channels_last")
    if channels_last is not None and not isinstance(channels_last, bool):
        raise ConfigError(f"channels_last must be true or false, got {channels_last!r}.")

    lr = _value(cfg, "optimizer.lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise ConfigError(f"optimizer.lr must be a positive number, got {lr!r}.")


def _check_dataset_root(cfg: DictConfig) -> None:
    """Stop on a dataset folder that does not exist, unless the data module is asked to download into it."""
    root = _value(cfg, "dataset.root")
    if root is None or _value(cfg, "dataset.download") is True:
        return
    if not Path(str(root)).is_dir():
        raise ConfigError(
            f"dataset.root: folder not found: {root}. Point dataset.root at the folder that contains the data"
            f"{', or set dataset.download=true to fetch it' if 'download' in cfg.dataset else ''}."
        )
