"""The identity of a ranking: what it was scored with, so that a resumed evaluation never mixes supernets.

Next to ``ranking.csv`` the evaluation stage writes ``ranking_identity.json``: a SHA-256 digest of the
supernet weights and every setting that changes a score (search space, seed, BatchNorm re-estimation,
batch size, precision and data splits). A rerun with ``evaluation.resume=true`` in the same run folder
continues the ranking only if the identity is the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lightning_oneshot.errors import ConfigError
from lightning_oneshot.spaces.base import SearchSpace

IDENTITY_FILE = "ranking_identity.json"
RANKING_FILE = "ranking.csv"
# Data module settings that change how fast data is read, not which images are scored.
_DATASET_KEYS_WITHOUT_EFFECT = ("batch_size", "num_workers")


def weights_digest(state: Mapping[str, torch.Tensor]) -> str:
    """Return the SHA-256 of tensor names, dtypes, shapes and values, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def evaluation_identity(cfg: DictConfig, space: SearchSpace, supernet_state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    return {
        "supernet_weights_sha256": weights_digest(supernet_state),
        "search_space": space.describe(),
        "seed": cfg.seed,
        "bn_batches": cfg.evaluation.bn_batches,
        "batch_size": cfg.evaluation.batch_size,
        "precision": str(cfg.trainer.precision),
        "dataset": {key: value for key, value in dataset.items() if key not in _DATASET_KEYS_WITHOUT_EFFECT},
    }


def check_resumable_ranking(output_dir: Path, identity: dict[str, Any], resume: bool) -> bool:
    """Return True when ``output_dir`` has a ranking to continue; raise ``ConfigError`` if it was scored differently."""
    ranking, identity_path = output_dir / RANKING_FILE, output_dir / IDENTITY_FILE
    if not resume or not ranking.exists():
        return False
    if not identity_path.is_file():
        raise ConfigError(
            f"evaluation.resume: {ranking} exists but {identity_path.name} does not, so it is unknown which supernet "
            f"scored it. Set evaluation.resume=false to score again from scratch, or use another run folder "
            f"(hydra.run.dir=...)."
        )
    saved = json.loads(identity_path.read_text())
    differences = [key for key in sorted(set(saved) | set(identity)) if saved.get(key) != identity.get(key)]
    if differences:
        raise ConfigError(
            f"evaluation.resume: {ranking} was scored with different {', '.join(differences)} "
            f"(for example another supernet checkpoint). Use another run folder (hydra.run.dir=...) or set "
            f"evaluation.resume=false to replace the ranking."
        )
    return True


def write_identity(output_dir: Path, identity: dict[str, Any]) -> None:
    (output_dir / IDENTITY_FILE).write_text(json.dumps(identity, indent=2, sort_keys=True))
