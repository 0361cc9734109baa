"""The retrain stage: train the chosen architecture from scratch as a standalone network and test it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hydra.utils import instantiate
from pytorch_lightning.utilities import rank_zero_info

from lightning_oneshot.data.base import RetrainSplits
from lightning_oneshot.evaluation.ranking import count_parameters
from lightning_oneshot.loggers import build_logger, finish_logger
from lightning_oneshot.modules import StandaloneModule

if TYPE_CHECKING:
    from lightning_oneshot.pipeline import RunContext

log = logging.getLogger(__name__)


def run_retrain(context: RunContext) -> None:
    """Retrain ``context.architecture`` for ``retrain.max_epochs`` and record its accuracy in the summary.

    The summary gets the test accuracy, and the validation accuracy when the data module keeps a validation
    split for this stage (``retrain_val_accuracy`` is None otherwise).
    """
    cfg, arch = context.cfg, context.architecture
    retrain = cfg.retrain
    network = context.space.build_standalone(arch)
    params = count_parameters(network)
    rank_zero_info(f"Retraining {arch.hash} from scratch: {params} parameters, {retrain.max_epochs} epochs.")

    datamodule = context.datamodule
    validate = datamodule.use_retrain_splits() if isinstance(datamodule, RetrainSplits) else True
    if not validate:
        rank_zero_info("Retraining on the whole training set, so no validation loop runs; the test set is read once at the end.")

    scheduler = instantiate(retrain.scheduler) if retrain.get("scheduler") else None
    module = StandaloneModule(
        network,
        datamodule.num_classes,
        instantiate(retrain.optimizer),
        scheduler,
        channels_last=bool(cfg.get("channels_last", False)),
    )
    logger = build_logger(cfg, "retrain")
    no_validation = {} if validate else {"limit_val_batches": 0}
    trainer = instantiate(
        cfg.trainer, max_epochs=retrain.max_epochs, enable_checkpointing=False, logger=logger, **no_validation
    )
    trainer.fit(module, datamodule=datamodule)
    val_metric = trainer.callback_metrics.get("val/acc")
    val_accuracy = float(val_metric) if val_metric is not None else None
    test_accuracy = float(trainer.test(module, datamodule=datamodule, verbose=False)[0]["test/acc"])

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
