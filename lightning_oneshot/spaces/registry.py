"""Build search spaces from their Hydra configs under ``conf/search_space`` (for scripts and tests)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from hydra.utils import instantiate
from omegaconf import OmegaConf

from lightning_oneshot.spaces.base import SearchSpace


def available_spaces() -> list[str]:
    folder = resources.files("lightning_oneshot.conf") / "search_space"
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def build_space(name: str, in_channels: int, num_classes: int, **overrides: Any) -> SearchSpace:
    """Instantiate ``conf/search_space/<name>.yaml`` with ``overrides`` applied on top."""
    names = available_spaces()
    if name not in names:
        raise ValueError(f"Unknown search space {name!r}. Available search spaces: {', '.join(names)}.")
    path = resources.files("lightning_oneshot.conf") / "search_space" / f"{name}.yaml"
    config = OmegaConf.merge(OmegaConf.create(path.read_text()), OmegaConf.create(overrides))
    return instantiate(config, in_channels=in_channels, num_classes=num_classes)
