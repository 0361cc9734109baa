"""Writing checkpoints atomically, and reading supernet checkpoints with checks that they match the search space."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lightning_oneshot.errors import ConfigError
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.supernet import Supernet

# Lightning stores the LightningModule's state under "state_dict"; SupernetModule keeps the supernet as `network`.
_SUPERNET_PREFIX = "network."


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file and renames it into place.

    A job killed while saving then leaves the previous ``last.ckpt`` intact instead of a truncated file,
    because ``os.replace`` within one folder is atomic on POSIX file systems.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        path = Path(path)
        temporary = path.with_name(f"{path.name}.tmp")
        super().save_checkpoint(checkpoint, temporary, storage_options)
        os.replace(temporary, path)


def read_checkpoint(path: Path, space: SearchSpace, key: str) -> dict[str, Any]:
    """Load a supernet checkpoint on the CPU and check that it was trained on ``space``."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise ConfigError(
            f"{key}: cannot read checkpoint {path} ({type(error).__name__}: {error}). "
            f"The file is truncated or not a PyTorch checkpoint; point {key} at a complete supernet.ckpt or last.ckpt."
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "search_space" not in checkpoint:
        raise ConfigError(
            f"{key}: {path} is not a lightning-oneshot supernet checkpoint (it has no 'state_dict' or no "
            f"'search_space' entry)."
        )

    saved, current = checkpoint["search_space"] or {}, space.describe()
    differences = [
        f"{name}: checkpoint {saved.get(name)!r}, config {current.get(name)!r}"
        for name in sorted(set(saved) | set(current))
        if saved.get(name) != current.get(name)
    ]
    if differences:
        raise ConfigError(
            f"{key}: checkpoint {path} was trained on a different search space ({'; '.join(differences)}). "
            f"Use the search_space settings the checkpoint was trained with."
        )
    return checkpoint


def supernet_state(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Extract the supernet's state dict from a Lightning checkpoint of ``SupernetModule``."""
    return {
        name[len(_SUPERNET_PREFIX):]: tensor
        for name, tensor in checkpoint["state_dict"].items()
        if name.startswith(_SUPERNET_PREFIX)
    }


def load_supernet_weights(supernet: Supernet, checkpoint: dict[str, Any]) -> None:
    supernet.load_state_dict(supernet_state(checkpoint))
