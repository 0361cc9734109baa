"""The evaluation stage: score architectures with the shared weights, rank them, export the best one."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import torch
from pytorch_lightning.utilities import rank_zero_info
from tqdm.auto import tqdm

from lightning_oneshot.evaluation.ranking import RankingWriter, standalone_parameters
from lightning_oneshot.evaluation.scorer import Scorer
from lightning_oneshot.evaluation.strategies import random_architectures
from lightning_oneshot.loggers import build_logger, finish_logger
from lightning_oneshot.supernet import Supernet

if TYPE_CHECKING:
    from lightning_oneshot.pipeline import RunContext

log = logging.getLogger(__name__)


def evaluation_device(accelerator: str) -> torch.device:
    """The device for scoring: CUDA when the trainer may use it and it is present, else the CPU."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def autocast_dtype(precision: str) -> torch.dtype | None:
    precision = str(precision)
    if precision.startswith("bf16"):
        return torch.bfloat16
    if precision.startswith("16"):
        return torch.float16
    return None


def run_evaluation(context: RunContext, supernet: Supernet) -> None:
    """Score ``evaluation.num_samples`` architectures, write ranking.csv / ranking.json and best_architecture.yaml."""
    cfg, space, datamodule = context.cfg, context.space, context.datamodule
    evaluation = cfg.evaluation
    datamodule.setup("fit")
    calibration = datamodule.calibration_batches(evaluation.bn_batches, evaluation.batch_size, seed=cfg.seed)
    validation = datamodule.validation_batches(evaluation.batch_size)
    if cfg.get("channels_last", False):
        supernet = supernet.to(memory_format=torch.channels_last)
        calibration = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in calibration]
        validation = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in validation]
    device = evaluation_device(str(cfg.trainer.accelerator))
    scorer = Scorer(supernet, calibration, validation, device, autocast_dtype(cfg.trainer.precision))
    rank_zero_info(
        f"Scoring up to {evaluation.num_samples} architectures on {device}: BatchNorm re-estimation on "
        f"{len(calibration)} training batches, then {sum(len(y) for _, y in validation)} validation images."
    )

    ranking_path = context.output_dir / "ranking.csv"
    writer = RankingWriter(ranking_path)
    total = min(space.size(), evaluation.num_samples)
    best = -1.0
    with tqdm(total=total, desc="Scoring architectures", dynamic_ncols=True) as progress:
        for arch in random_architectures(space, evaluation.num_samples, seed=cfg.seed):
            accuracy = scorer.score(arch)
            writer.add(arch, accuracy, standalone_parameters(space, arch))
            best = max(best, accuracy)
            log.debug("Scored %s: one-shot validation accuracy %.4f", arch.hash, accuracy)
            progress.update()
            progress.set_postfix(best=f"{best:.4f}")
    ranked = writer.finalize()

    top = ranked[0]
    best_arch = space.architecture(json.loads(top.architecture))
    best_path = context.output_dir / "best_architecture.yaml"
    best_arch.save(best_path)
    context.architecture = best_arch
    context.summary.update(
        best_architecture=best_arch.to_dict(),
        best_architecture_hash=best_arch.hash,
        oneshot_val_accuracy=top.oneshot_val_accuracy,
        num_scored=len(ranked),
    )
    rank_zero_info(f"Wrote {ranking_path}, {ranking_path.with_suffix('.json')} and {best_path}")
    rank_zero_info(f"Best one-shot validation accuracy {top.oneshot_val_accuracy:.4f}: {best_arch.to_dict()}")
    _log_ranking(context, ranked, best_path)


def _log_ranking(context: RunContext, ranked: list, best_path) -> None:
    logger = build_logger(context.cfg, "evaluate")
    logger.log_metrics({"eval/best_oneshot_acc": ranked[0].oneshot_val_accuracy, "eval/num_scored": len(ranked)})
    if hasattr(logger, "log_table"):
        columns = ["rank", "hash", "architecture", "oneshot_val_accuracy", "params"]
        rows = [[entry.rank, entry.hash, entry.architecture, entry.oneshot_val_accuracy, entry.params] for entry in ranked]
        logger.log_table(key="ranking", columns=columns, data=rows)
    if hasattr(logger, "experiment") and hasattr(logger.experiment, "log_artifact"):
        import wandb

        artifact = wandb.Artifact("best_architecture", type="architecture")
        artifact.add_file(str(best_path))
        logger.experiment.log_artifact(artifact)
    finish_logger(logger)
