"""The search stage: train the weight-sharing supernet and save ``supernet.ckpt``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
from hydra.utils import instantiate
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_info

from lightning_oneshot.callbacks import ArchitectureSamplingCallback
from lightning_oneshot.distributed import search_strategy
from lightning_oneshot.checkpoints import AtomicCheckpointIO
from lightning_oneshot.loggers import build_logger, finish_logger
from lightning_oneshot.modules import SupernetModule
from lightning_oneshot.supernet import Supernet

if TYPE_CHECKING:
    from lightning_oneshot.pipeline import RunContext

log = logging.getLogger(__name__)


def build_supernet_module(context: RunContext, supernet: Supernet) -> SupernetModule:
    cfg = context.cfg
    scheduler = instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    return SupernetModule(
        supernet,
        num_classes=context.datamodule.num_classes,
        optimizer=instantiate(cfg.optimizer),
        scheduler=scheduler,
        validation_masks=context.sampler.validation_masks(),
        space_description=context.space.describe(),
        channels_last=bool(cfg.get("channels_last", False)),
    )


def _resumed_wandb_run_id(ckpt_path: str | None) -> str | None:
    if not ckpt_path:
        return None
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    return checkpoint.get("wandb_run_id")


def run_search(context: RunContext) -> Supernet:
    """Train the supernet with the configured sampler; return it with its trained weights."""
    cfg = context.cfg
    supernet = context.space.build_supernet()
    module = build_supernet_module(context, supernet)
    labels = [label for label, _ in module.validation_masks]
    rank_zero_info(f"Validating the supernet on {len(labels)} fixed mask(s): {', '.join(labels)}.")

    checkpoints = ModelCheckpoint(
        dirpath=context.output_dir / "checkpoints",
        save_last=True,
        save_top_k=0,
        every_n_train_steps=cfg.checkpoint.every_n_train_steps,
    )
    extra_callbacks = [instantiate(node) for node in (cfg.get("callbacks") or {}).values()]
    logger = build_logger(cfg, "search", run_id=_resumed_wandb_run_id(cfg.get("ckpt_path")))
    trainer = instantiate(
        cfg.trainer,
        strategy=search_strategy(cfg.trainer),
        callbacks=[ArchitectureSamplingCallback(context.sampler), *extra_callbacks, checkpoints],
        plugins=[AtomicCheckpointIO()],
        logger=logger,
    )
    trainer.fit(module, datamodule=context.datamodule, ckpt_path=cfg.get("ckpt_path") or None)

    path = context.output_dir / "supernet.ckpt"
    trainer.save_checkpoint(path)
    finish_logger(logger)
    rank_zero_info(f"Wrote {path}")
    context.summary["supernet_ckpt"] = str(path)
    return supernet
