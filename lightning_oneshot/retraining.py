"""The retrain stage: train the chosen architecture from scratch as a standalone network and test it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hydra.utils import instantiate
from pytorch_lightning.utilities import rank_zero_info

from lightning_oneshot.evaluation.ranking import count_parameters
from lightning_oneshot.loggers import build_logger, finish_logger
from lightning_oneshot.modules import StandaloneModule

if TYPE_CHECKING:
    from lightning_oneshot.pipeline import RunContext

log = logging.getLogger(__name__)


def run_retrain(context: RunContext) -> None:
    """Retrain ``context.architecture`` for ``retrain.max_epochs``; record val and test accuracy in the summary."""
    cfg, arch = context.cfg, context.architecture
    retrain = cfg.retrain
    network = context.space.build_standalone(arch)
    params = count_parameters(network)
    rank_zero_info(f"Retraining {arch.hash} from scratch: {params} parameters, {retrain.max_epochs} epochs.")

    scheduler = instantiate(retrain.scheduler) if retrain.get("scheduler") else None
    module = StandaloneModule(network, context.datamodule.num_classes, instantiate(retrain.optimizer), scheduler)
    logger = build_logger(cfg, "retrain")
    trainer = instantiate(cfg.trainer, max_epochs=retrain.max_epochs, enable_checkpointing=False, logger=logger)
    trainer.fit(module, datamodule=context.datamodule)
    val_accuracy = float(trainer.callback_metrics["val/acc"])
    test_accuracy = float(trainer.test(module, datamodule=context.datamodule, verbose=False)[0]["test/acc"])

    path = context.output_dir / "retrained.ckpt"
    trainer.save_checkpoint(path)
    finish_logger(logger)
    rank_zero_info(f"Wrote {path}")
    context.summary.update(
        best_architecture=arch.to_dict(),
        best_architecture_hash=arch.hash,
        retrain_val_accuracy=val_accuracy,
        test_accuracy=test_accuracy,
        test_error=1.0 - test_accuracy,
        params=params,
        retrained_ckpt=str(path),
    )
