"""The evaluation stage: a search strategy proposes architectures, which are scored with the shared weights.

Under DDP every rank runs the same strategy, scores its share of each batch, and the scores are gathered after
each round, so rank zero writes ranking rows while scoring runs and every rank receives the same scores.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only
from tqdm.auto import tqdm

from lightning_oneshot.distributed import broadcast_object, device_for_rank, gather_objects, rank_and_world_size
from lightning_oneshot.errors import NumericalError
from lightning_oneshot.evaluation.cost import Constraints, Cost, CostModel
from lightning_oneshot.evaluation.ranking import OK, RankingEntry, RankingWriter
from lightning_oneshot.evaluation.report import plot_ranking
from lightning_oneshot.evaluation.resume import check_resumable_ranking, evaluation_identity, write_identity
from lightning_oneshot.evaluation.scorer import Scorer
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


class ArchitectureScorer:
    """Scores batches of architectures across ranks, once per architecture, and records every score.

    Round r of a batch gives architecture ``r * world_size + rank`` to each rank, then gathers the round's
    results, so no rank waits for more than one architecture and rows reach rank zero's ``writer`` as they
    are scored. Architectures scored before are looked up by hash and not scored again.
    """

    def __init__(self, scorer: Scorer, cost_model: CostModel, writer: RankingWriter | None, progress: tqdm) -> None:
        self.scorer = scorer
        self.cost_model = cost_model
        self.writer = writer
        self.progress = progress
        self.scores: dict[str, float] = {}
        self.best = float("-inf")

    def __call__(self, architectures: Sequence[Architecture]) -> list[float]:
        new = list({arch.hash: arch for arch in architectures if arch.hash not in self.scores}.values())
        rank, world_size = rank_and_world_size()
        for start in range(0, len(new), world_size):
            round_architectures = new[start : start + world_size]
            local = None
            if rank < len(round_architectures):
                arch = round_architectures[rank]
                local = (self.scorer.score(arch), self.cost_model(arch))
            gathered = gather_objects(local)[: len(round_architectures)]
            for arch, (accuracy, cost) in zip(round_architectures, gathered):
                self._record(arch, accuracy, cost)
        return [self.scores[arch.hash] for arch in architectures]

    def _record(self, arch: Architecture, accuracy: float, cost: Cost) -> None:
        self.scores[arch.hash] = accuracy
        if self.writer is not None:
            self.writer.add(arch, accuracy, cost.params, cost.flops)
        if math.isfinite(accuracy):
            self.best = max(self.best, accuracy)
        else:
            log.warning("Architecture %s has non-finite outputs; recorded as failed in the ranking.", arch.hash)
        log.debug("Scored %s: one-shot validation accuracy %.4f, %d parameters, %d FLOPs", arch.hash, accuracy, cost.params, cost.flops)
        self.progress.update()
        self.progress.set_postfix(best=f"{self.best:.4f}")


def build_constraints(cfg: DictConfig, space: SearchSpace, datamodule) -> Constraints:
    input_shape = (datamodule.num_channels, datamodule.image_size, datamodule.image_size)
    evaluation = cfg.evaluation
    return Constraints(CostModel(space, input_shape), evaluation.get("max_params"), evaluation.get("max_flops"))


def run_evaluation(context: RunContext, supernet: Supernet) -> None:
    """Run the configured search strategy with one-shot scores; write the ranking files and best_architecture.yaml."""
    cfg, space, datamodule = context.cfg, context.space, context.datamodule
    evaluation = cfg.evaluation
    rank, world_size = rank_and_world_size()
    datamodule.setup("fit")
    calibration = datamodule.calibration_batches(evaluation.bn_batches, evaluation.batch_size, seed=cfg.seed)
    validation = datamodule.validation_batches(evaluation.batch_size)
    if cfg.get("channels_last", False):
        supernet = supernet.to(memory_format=torch.channels_last)
        calibration = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in calibration]
        validation = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in validation]
    device = device_for_rank(str(cfg.trainer.accelerator))
    scorer = Scorer(supernet, calibration, validation, device, autocast_dtype(cfg.trainer.precision))
    constraints = build_constraints(cfg, space, datamodule)
    strategy = context.strategy
    rank_zero_info(
        f"Evaluation: {strategy.name} search on {world_size} process(es) over a space of {space.size():,} architectures, "
        f"{constraints.describe()}. Each architecture: "
        f"BatchNorm re-estimation on {len(calibration)} training batches, then {sum(len(y) for _, y in validation)} "
        f"validation images."
    )

    ranking_path = context.output_dir / "ranking.csv"
    # Every rank checks the identity, so that a mismatch stops all of them; only rank zero writes.
    identity = evaluation_identity(cfg, space, supernet.state_dict())
    resume = check_resumable_ranking(context.output_dir, identity, evaluation.get("resume", True))
    writer = None
    if rank == 0:
        write_identity(context.output_dir, identity)
        writer = RankingWriter(ranking_path, resume=resume)
    earlier = broadcast_object({entry.hash: entry.oneshot_val_accuracy for entry in writer.entries} if writer else None)
    if earlier:
        rank_zero_info(f"Resuming {ranking_path}: {len(earlier)} architectures are already scored and are not scored again.")

    with tqdm(desc="Scoring architectures", dynamic_ncols=True, disable=rank != 0) as progress:
        scorer_fn = ArchitectureScorer(scorer, constraints.cost_model, writer, progress)
        scorer_fn.scores.update(earlier)
        strategy.run(space, scorer_fn, constraints, evaluation.num_samples, cfg.seed)
    ranked = broadcast_object(writer.finalize() if writer is not None else None)
    if not ranked:
        raise RuntimeError(f"No architecture was scored: no architecture of the space satisfies {constraints.describe()}.")
    if ranked[0].status != OK:
        raise NumericalError(
            f"All {len(ranked)} architectures in {ranking_path} have NaN or infinite outputs, so none can be "
            f"ranked. The supernet weights in the checkpoint are probably non-finite: retrain it with a lower "
            f"optimizer.lr."
        )

    top_k = int(OmegaConf.select(cfg, "retrain.top_k", default=1))
    context.candidates = [space.architecture(json.loads(entry.architecture)) for entry in ranked[:top_k] if entry.status == OK]
    best_arch = context.candidates[0]
    context.architecture = best_arch
    best_path = context.output_dir / "best_architecture.yaml"
    plot_path = context.output_dir / "ranking.png"
    _save_outputs(best_arch, best_path, ranked, plot_path)
    context.summary.update(
        best_architecture=best_arch.to_dict(),
        best_architecture_hash=best_arch.hash,
        oneshot_val_accuracy=ranked[0].oneshot_val_accuracy,
        num_scored=len(ranked),
        search_strategy=strategy.name,
    )
    rank_zero_info(f"Wrote {ranking_path}, {ranking_path.with_suffix('.json')}, {plot_path} and {best_path}")
    rank_zero_info(f"Best one-shot validation accuracy {ranked[0].oneshot_val_accuracy:.4f}: {best_arch.to_dict()}")
    _log_ranking(context, ranked, best_path, plot_path)


@rank_zero_only
def _save_outputs(best: Architecture, best_path: Path, ranked: list[RankingEntry], plot_path: Path) -> None:
    best.save(best_path)
    plot_ranking(ranked, plot_path)


def _log_ranking(context: RunContext, ranked: list[RankingEntry], best_path: Path, plot_path: Path) -> None:
    logger = build_logger(context.cfg, "evaluate")
    logger.log_metrics({"eval/best_oneshot_acc": ranked[0].oneshot_val_accuracy, "eval/num_scored": len(ranked)})
    if isinstance(logger, WandbLogger):
        columns = ["rank", "hash", "architecture", "oneshot_val_accuracy", "params", "flops"]
        rows = [[entry.rank, entry.hash, entry.architecture, entry.oneshot_val_accuracy, entry.params, entry.flops] for entry in ranked]
        logger.log_table(key="ranking", columns=columns, data=rows)
        logger.log_image(key="ranking_plot", images=[str(plot_path)])
        _log_artifact(logger, best_path)
    finish_logger(logger)


@rank_zero_only
def _log_artifact(logger: WandbLogger, best_path: Path) -> None:
    import wandb

    artifact = wandb.Artifact("best_architecture", type="architecture")
    artifact.add_file(str(best_path))
    logger.experiment.log_artifact(artifact)
