"""The evaluation stage: score architectures with the shared weights, rank them, export the best one.

Under DDP every rank builds the same candidate list, scores its share, and the scores are gathered after each
round, so rank zero writes ranking rows while scoring runs and every rank ends with the same ranking.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only
from tqdm.auto import tqdm

from lightning_oneshot.distributed import broadcast_object, device_for_rank, gather_objects, rank_and_world_size
from lightning_oneshot.evaluation.ranking import RankingEntry, RankingWriter, standalone_parameters
from lightning_oneshot.evaluation.scorer import Scorer
from lightning_oneshot.evaluation.strategies import random_architectures
from lightning_oneshot.loggers import build_logger, finish_logger
from lightning_oneshot.spaces.architecture import Architecture
from lightning_oneshot.spaces.base import SearchSpace
from lightning_oneshot.supernet import Supernet

if TYPE_CHECKING:
    from lightning_oneshot.pipeline import RunContext

log = logging.getLogger(__name__)


def autocast_dtype(precision: str) -> torch.dtype | None:
    precision = str(precision)
    if precision.startswith("bf16"):
        return torch.bfloat16
    if precision.startswith("16"):
        return torch.float16
    return None


def score_sharded(
    architectures: Sequence[Architecture], scorer: Scorer, space: SearchSpace, writer: RankingWriter | None
) -> list[tuple[float, int]]:
    """Score ``architectures`` across all ranks; return (accuracy, params) for each, on every rank.

    Round r gives architecture ``r * world_size + rank`` to each rank, then gathers the round's results, so no
    rank waits for more than one architecture and rows reach ``writer`` (rank zero's) as they are scored.
    """
    rank, world_size = rank_and_world_size()
    results: list[tuple[float, int]] = []
    best = float("-inf")
    with tqdm(total=len(architectures), desc="Scoring architectures", dynamic_ncols=True, disable=rank != 0) as progress:
        for start in range(0, len(architectures), world_size):
            round_architectures = architectures[start : start + world_size]
            local = None
            if rank < len(round_architectures):
                arch = round_architectures[rank]
                local = (scorer.score(arch), standalone_parameters(space, arch))
            gathered = gather_objects(local)[: len(round_architectures)]

            for arch, (accuracy, params) in zip(round_architectures, gathered):
                results.append((accuracy, params))
                if writer is not None:
                    writer.add(arch, accuracy, params)
                best = max(best, accuracy)
                log.debug("Scored %s: one-shot validation accuracy %.4f, %d parameters", arch.hash, accuracy, params)
            progress.update(len(round_architectures))
            progress.set_postfix(best=f"{best:.4f}")
    return results


def run_evaluation(context: RunContext, supernet: Supernet) -> None:
    """Score ``evaluation.num_samples`` architectures, write ranking.csv / ranking.json and best_architecture.yaml."""
    cfg, space, datamodule = context.cfg, context.space, context.datamodule
    evaluation = cfg.evaluation
    rank, world_size = rank_and_world_size()
    datamodule.setup("fit")
    calibration = datamodule.calibration_batches(evaluation.bn_batches, evaluation.batch_size, seed=cfg.seed)
    validation = datamodule.validation_batches(evaluation.batch_size)
    device = device_for_rank(str(cfg.trainer.accelerator))
    scorer = Scorer(supernet, calibration, validation, device, autocast_dtype(cfg.trainer.precision))

    candidates = list(random_architectures(space, evaluation.num_samples, seed=cfg.seed))
    rank_zero_info(
        f"Scoring {len(candidates)} architectures on {world_size} process(es): BatchNorm re-estimation on "
        f"{len(calibration)} training batches, then {sum(len(y) for _, y in validation)} validation images each."
    )
    ranking_path = context.output_dir / "ranking.csv"
    writer = RankingWriter(ranking_path) if rank == 0 else None
    score_sharded(candidates, scorer, space, writer)
    ranked = broadcast_object(writer.finalize() if writer is not None else None)

    top = ranked[0]
    best_arch = space.architecture(json.loads(top.architecture))
    best_path = context.output_dir / "best_architecture.yaml"
    _save_architecture(best_arch, best_path)
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


@rank_zero_only
def _save_architecture(arch: Architecture, path: Path) -> None:
    arch.save(path)


def _log_ranking(context: RunContext, ranked: list[RankingEntry], best_path: Path) -> None:
    logger = build_logger(context.cfg, "evaluate")
    logger.log_metrics({"eval/best_oneshot_acc": ranked[0].oneshot_val_accuracy, "eval/num_scored": len(ranked)})
    if hasattr(logger, "log_table"):
        columns = ["rank", "hash", "architecture", "oneshot_val_accuracy", "params"]
        rows = [[entry.rank, entry.hash, entry.architecture, entry.oneshot_val_accuracy, entry.params] for entry in ranked]
        logger.log_table(key="ranking", columns=columns, data=rows)
    _log_artifact(logger, best_path)
    finish_logger(logger)


@rank_zero_only
def _log_artifact(logger, best_path: Path) -> None:
    if not hasattr(logger.experiment, "log_artifact"):
        return
    import wandb

    artifact = wandb.Artifact("best_architecture", type="architecture")
    artifact.add_file(str(best_path))
    logger.experiment.log_artifact(artifact)
