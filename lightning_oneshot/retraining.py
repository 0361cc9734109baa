"""The retrain stage: train the best-ranked architectures from scratch as standalone networks and test one.

With ``retrain.top_k`` of 1 the best architecture of the ranking is retrained. Data modules that have retrain
splits (the image datasets) then train on the whole official training set and run no validation loop. With a
``top_k`` above 1 each of the k best is retrained on the search splits, the final one is the best by retrained
validation accuracy, and only that one is tested, so the test split never takes part in the choice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hydra.utils import instantiate
from pytorch_lightning.utilities import rank_zero_info
from tqdm.auto import tqdm

from lightning_oneshot.data.base import RetrainSplits
from lightning_oneshot.distributed import rank_and_world_size
from lightning_oneshot.evaluation.ranking import count_parameters
from lightning_oneshot.loggers import build_logger, finish_logger
from lightning_oneshot.modules import StandaloneModule
from lightning_oneshot.spaces.architecture import Architecture

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from lightning_oneshot.pipeline import RunContext

log = logging.getLogger(__name__)


def _fit(context: RunContext, arch: Architecture, validate: bool, stage_name: str) -> tuple[pl.Trainer, StandaloneModule, Any, dict]:
    cfg, retrain = context.cfg, context.cfg.retrain
    network = context.space.build_standalone(arch)
    params = count_parameters(network)
    rank_zero_info(f"Retraining {arch.hash} from scratch: {params} parameters, {retrain.max_epochs} epochs.")

    scheduler = instantiate(retrain.scheduler) if retrain.get("scheduler") else None
    module = StandaloneModule(
        network,
        context.datamodule.num_classes,
        instantiate(retrain.optimizer),
        scheduler,
        channels_last=bool(cfg.get("channels_last", False)),
    )
    logger = build_logger(cfg, stage_name)
    no_validation = {} if validate else {"limit_val_batches": 0}
    trainer = instantiate(cfg.trainer, max_epochs=retrain.max_epochs, enable_checkpointing=False, logger=logger, **no_validation)
    trainer.fit(module, datamodule=context.datamodule)
    val_metric = trainer.callback_metrics.get("val/acc")
    result = {
        "architecture": arch.to_dict(),
        "hash": arch.hash,
        "params": params,
        "retrain_val_accuracy": float(val_metric) if val_metric is not None else None,
    }
    return trainer, module, logger, result


def run_retrain(context: RunContext) -> None:
    """Retrain ``context.candidates``, test the best by validation accuracy, and record the results in the summary."""
    candidates = context.candidates or [context.architecture]
    datamodule = context.datamodule
    validate = True
    if len(candidates) == 1 and isinstance(datamodule, RetrainSplits):
        validate = datamodule.use_retrain_splits()
        if not validate:
            rank_zero_info("Retraining on the whole training set, so no validation loop runs; the test set is read once at the end.")

    rank, _ = rank_and_world_size()
    runs = []
    for arch in tqdm(candidates, desc="Retraining", disable=rank != 0 or len(candidates) == 1):
        stage_name = "retrain" if len(candidates) == 1 else f"retrain-{arch.hash}"
        runs.append(_fit(context, arch, validate, stage_name))
        log.debug("Retrained %s: validation accuracy %s", arch.hash, runs[-1][3]["retrain_val_accuracy"])
        if len(candidates) > 1:
            finish_logger(runs[-1][2])

    # Validation accuracy picks the final architecture; the test split is read once, for that one only.
    best_index = max(range(len(runs)), key=lambda index: (runs[index][3]["retrain_val_accuracy"] or 0.0, -index))
    trainer, module, logger, result = runs[best_index]
    test_accuracy = float(trainer.test(module, datamodule=datamodule, verbose=False)[0]["test/acc"])
    path = context.output_dir / "retrained.ckpt"
    trainer.save_checkpoint(path)
    if len(candidates) == 1:
        finish_logger(logger)
    rank_zero_info(f"Wrote {path}")

    context.summary.update(
        best_architecture=result["architecture"],
        best_architecture_hash=result["hash"],
        retrain_val_accuracy=result["retrain_val_accuracy"],
        test_accuracy=test_accuracy,
        test_error=1.0 - test_accuracy,
        params=result["params"],
        retrained_ckpt=str(path),
        retrained=[run[3] for run in runs],
    )
