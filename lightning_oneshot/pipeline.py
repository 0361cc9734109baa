"""The three stages of a run (search, evaluate, retrain) and the files they hand to each other.

Every stage can run alone: ``stage=evaluate`` reads ``evaluation.supernet_ckpt`` and ``stage=retrain`` reads
``retrain.architecture``. All inputs are checked in ``prepare`` before any training starts.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only

from lightning_oneshot.checkpoints import load_supernet_weights, read_checkpoint, supernet_state
from lightning_oneshot.config_checks import check_config
from lightning_oneshot.distributed import check_strategy, launch_without_trainer
from lightning_oneshot.errors import ConfigError
from lightning_oneshot.evaluation.resume import check_resumable_ranking, evaluation_identity
from lightning_oneshot.evaluation.stage import run_evaluation
from lightning_oneshot.evaluation.strategies import ExhaustiveSearch, SearchError, check_exhaustive_size
from lightning_oneshot.logger_checks import check_wandb_online
from lightning_oneshot.retraining import run_retrain
from lightning_oneshot.search import run_search
from lightning_oneshot.spaces.architecture import Architecture, ArchitectureError
from lightning_oneshot.spaces.base import SearchSpace

log = logging.getLogger(__name__)

STAGE_ORDER = {
    "all": ("search", "evaluate", "retrain"),
    "search": ("search",),
    "evaluate": ("evaluate",),
    "retrain": ("retrain",),
}


@dataclass
class RunContext:
    """Everything the stages share: the config, the run folder, the data and the search space."""

    cfg: DictConfig
    output_dir: Path
    datamodule: pl.LightningDataModule
    space: SearchSpace
    sampler: Any = None
    supernet_checkpoint: dict | None = None
    strategy: Any = None
    architecture: Architecture | None = None
    candidates: list[Architecture] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _instantiate(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` that turns a constructor's ValueError into a ConfigError naming the group."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ValueError):
            # Constructors usually name the full key already; prefix the group only where they do not.
            message = str(cause) if str(cause).startswith(f"{key}.") else f"{key}: {cause}"
            raise ConfigError(message) from cause
        if isinstance(cause, TypeError) and "unexpected keyword argument" in str(cause):
            target = node.get("_target_")
            raise ConfigError(
                f"{key}: {cause}. {target} does not take that key; see the keys of the chosen option under conf/{key}/."
            ) from cause
        raise


def _existing_file(cfg: DictConfig, key: str, default: Path) -> Path:
    value = OmegaConf.select(cfg, key, default=None)
    path = Path(value) if value else default
    if not path.is_file():
        raise ConfigError(f"{key}: file not found: {path}. Pass {key}=<path> to point at an existing file.")
    return path


def _check_resumed_sampler(checkpoint: dict[str, Any], sampler: str) -> None:
    # The sampling callback rejects the mismatch too, but only after the model and optimizer are built.
    saved = (checkpoint.get("callbacks") or {}).get("ArchitectureSamplingCallback", {}).get("name")
    if saved is not None and saved != sampler:
        raise ConfigError(
            f"ckpt_path: the checkpoint was trained with sampler {saved!r}, but sampler={sampler!r} is configured. "
            f"Resume with sampler={saved}."
        )


def prepare(cfg: DictConfig) -> RunContext:
    """Check the config, build the data module and search space, and load every input file, without training."""
    check_config(cfg)
    check_strategy(cfg.trainer)
    check_wandb_online(cfg)
    stages = STAGE_ORDER[cfg.stage]
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    datamodule = _instantiate(cfg.dataset, "dataset")
    space = _instantiate(
        cfg.search_space, "search_space", in_channels=datamodule.num_channels, num_classes=datamodule.num_classes
    )
    context = RunContext(cfg, output_dir, datamodule, space)
    if "search" in stages:
        context.sampler = _instantiate(cfg.sampler, "sampler", space=space)
        if cfg.get("ckpt_path"):
            _existing_file(cfg, "ckpt_path", Path(cfg.ckpt_path))
            checkpoint = read_checkpoint(Path(cfg.ckpt_path), space, key="ckpt_path")
            _check_resumed_sampler(checkpoint, context.sampler.name)

    if "evaluate" in stages:
        context.strategy = _instantiate(cfg.evaluation.strategy, "evaluation.strategy")
        if isinstance(context.strategy, ExhaustiveSearch):
            try:
                check_exhaustive_size(space, context.strategy.max_architectures)
            except SearchError as error:
                raise ConfigError(str(error)) from error

    if stages == ("evaluate",):
        path = _existing_file(cfg, "evaluation.supernet_ckpt", output_dir / "supernet.ckpt")
        context.supernet_checkpoint = read_checkpoint(path, space, key="evaluation.supernet_ckpt")
        context.summary["supernet_ckpt"] = str(path)
        identity = evaluation_identity(cfg, space, supernet_state(context.supernet_checkpoint))
        check_resumable_ranking(output_dir, identity, cfg.evaluation.get("resume", True))

    if stages == ("retrain",):
        path = _existing_file(cfg, "retrain.architecture", output_dir / "best_architecture.yaml")
        try:
            context.architecture = space.load_architecture(path)
        except ArchitectureError as error:
            raise ConfigError(f"retrain.architecture: {error}") from error
        context.candidates = [context.architecture]
    return context


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run the configured stages and write ``summary.json``; return the summary."""
    context = prepare(cfg)
    if cfg.stage == "evaluate":
        launch_without_trainer(cfg.trainer)
    _write_resolved_config(cfg, context.output_dir)
    stage_seconds: dict[str, float] = {}
    supernet = None

    for stage in STAGE_ORDER[cfg.stage]:
        rank_zero_info(f"Stage {stage!r} started.")
        start = time.perf_counter()
        # Seed each stage on its own, so a stage run alone matches the same stage inside stage=all.
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        if stage == "search":
            supernet = run_search(context)
        elif stage == "evaluate":
            if supernet is None:
                supernet = context.space.build_supernet()
                load_supernet_weights(supernet, context.supernet_checkpoint)
            run_evaluation(context, supernet)
        else:
            run_retrain(context)
        stage_seconds[stage] = round(time.perf_counter() - start, 2)
        rank_zero_info(f"Stage {stage!r} finished in {stage_seconds[stage]:.1f} s.")

    context.summary["stage_seconds"] = stage_seconds
    _write_summary(context)
    return context.summary


@rank_zero_only
def _write_resolved_config(cfg: DictConfig, output_dir: Path) -> None:
    """Save the config with every interpolation resolved; Hydra's own .hydra/config.yaml keeps them unresolved."""
    path = output_dir / "config_resolved.yaml"
    OmegaConf.save(cfg, path, resolve=True)
    log.info("Wrote %s", path)


@rank_zero_only
def _write_summary(context: RunContext) -> None:
    path = context.output_dir / "summary.json"
    path.write_text(json.dumps(context.summary, indent=2))
    log.info("Wrote %s", path)
    if "test_error" in context.summary:
        log.info(
            "Best architecture %s: test accuracy %.4f, test error %.4f, %d parameters.",
            context.summary.get("best_architecture_hash"),
            context.summary["test_accuracy"],
            context.summary["test_error"],
            context.summary["params"],
        )
