"""Logger factories: one experiment logger per stage, all in the run folder.

The configs in ``conf/logger`` point at these functions with ``_partial_: true``, and the pipeline calls
the partial with the stage name.
"""

from __future__ import annotations

import os

from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only


def csv_logger(stage: str, save_dir: str, name: str = "logs") -> CSVLogger:
    """Metrics as ``<save_dir>/<name>/<stage>/metrics.csv``."""
    return CSVLogger(save_dir=save_dir, name=name, version=stage)


def wandb_logger(
    stage: str,
    save_dir: str,
    project: str = "lightning-oneshot",
    group: str | None = None,
    offline: bool = True,
    entity: str | None = None,
    tags: list[str] | None = None,
) -> WandbLogger:
    """One W&B run per stage, grouped per job; offline unless ``offline=false`` is set.

    Offline runs are written under ``<save_dir>/wandb`` and can be uploaded later with ``wandb sync``.
    """
    os.makedirs(save_dir, exist_ok=True)
    return WandbLogger(
        name=f"{group}-{stage}" if group else stage,
        save_dir=save_dir,
        project=project,
        group=group,
        job_type=stage,
        offline=offline,
        entity=entity,
        tags=list(tags) if tags else None,
    )


def build_logger(cfg: DictConfig, stage: str) -> Logger:
    """Instantiate ``cfg.logger`` (a partial) for one stage."""
    return instantiate(cfg.logger)(stage=stage)


def finish_logger(logger: Logger) -> None:
    """Close a stage's logger, so that the next stage starts its own W&B run instead of reusing this one."""
    logger.finalize("success")
    if isinstance(logger, WandbLogger) and rank_zero_only.rank == 0:
        import wandb

        if wandb.run is not None:
            wandb.finish()
