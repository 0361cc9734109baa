"""Logger factories: one experiment logger per stage, all in the run folder.

The configs in ``conf/logger`` point at these functions with ``_partial_: true``, and the pipeline calls
the partial with the stage name.
"""

from __future__ import annotations

import csv
import os

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities import rank_zero_only


class _AppendingExperimentWriter(ExperimentWriter):
    """Keeps the columns of an existing metrics.csv when a new process appends to it.

    Lightning's writer tracks only the columns that it logged itself. When a later process writes to the same file
    (a resumed run, or ``trainer.test`` after ``trainer.fit`` under ``ddp_spawn``) with a new column, its
    rewrite would fail on the old rows' columns, so the existing header is read first.
    """

    def _record_new_keys(self) -> set[str]:
        if not self.metrics_keys and self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys.extend(next(csv.reader(file), []))
        return super()._record_new_keys()


class StageCSVLogger(CSVLogger):
    """Lightning's CSVLogger with a writer that appends safely to an existing metrics.csv."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment


def csv_logger(stage: str, save_dir: str, name: str = "logs", run_id: str | None = None) -> CSVLogger:
    """Metrics as ``<save_dir>/<name>/<stage>/metrics.csv``; ``run_id`` is ignored."""
    return StageCSVLogger(save_dir=save_dir, name=name, version=stage)


def wandb_logger(
    stage: str,
    save_dir: str,
    project: str = "lightning-oneshot",
    group: str | None = None,
    offline: bool = True,
    entity: str | None = None,
    tags: list[str] | None = None,
    run_id: str | None = None,
) -> WandbLogger:
    """Create one W&B run per stage, grouped per job, offline unless ``offline=false`` is set.

    Offline runs are written under ``<save_dir>/wandb`` and can be uploaded later with ``wandb sync``.
    ``run_id`` continues an earlier run, as when the search stage resumes from a checkpoint.
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
        id=run_id,
        resume="allow" if run_id else None,
    )


def build_logger(cfg: DictConfig, stage: str, run_id: str | None = None) -> Logger:
    """Instantiate ``cfg.logger`` (a partial) for one stage and record the resolved config as hyperparameters."""
    logger = instantiate(cfg.logger)(stage=stage, run_id=run_id)
    logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return logger


def finish_logger(logger: Logger) -> None:
    """Close a stage's logger, so that the next stage starts its own W&B run instead of reusing this one."""
    logger.finalize("success")
    if isinstance(logger, WandbLogger) and rank_zero_only.rank == 0:
        import wandb

        if wandb.run is not None:
            wandb.finish()
