"""How well does the supernet rank architectures? One-shot scores against standalone training.

For each sampler in ``benchmark.samplers`` it trains a supernet, scores ``benchmark.num_architectures``
distinct, uniformly drawn architectures with the shared weights (with and without BatchNorm re-estimation),
and compares the scores with the ground truth: the mean validation accuracy of ``benchmark.num_seeds``
standalone trainings of ``benchmark.standalone_epochs`` epochs each, with the retrain stage's optimizer.
The noise ceiling is the Kendall tau between the means of the first and second half of the seeds.

Writes ground_truth.csv, pairs.csv, results.json and one parity plot per setting to the run folder.

    python benchmarks/ranking_quality.py
    python benchmarks/ranking_quality.py benchmark.samplers=[uniform] trainer.max_epochs=50
    python benchmarks/ranking_quality.py benchmark.ground_truth_csv=<earlier run>/ground_truth.csv
"""

from __future__ import annotations

import csv
import json
import logging
import time
from importlib import resources
from pathlib import Path

import hydra
import numpy as np
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from lightning_oneshot.evaluation.correlation import kendall_tau, ranking_report
from lightning_oneshot.evaluation.scorer import Scorer
from lightning_oneshot.evaluation.strategies import random_architectures
from lightning_oneshot.modules import StandaloneModule
from lightning_oneshot.pipeline import RunContext
from lightning_oneshot.search import run_search

log = logging.getLogger("ranking_quality")


def standalone_accuracy(cfg: DictConfig, context: RunContext, arch, seed: int) -> float:
    pl.seed_everything(seed, workers=True, verbose=False)
    retrain = cfg.retrain
    scheduler = instantiate(retrain.scheduler) if retrain.get("scheduler") else None
    module = StandaloneModule(context.space.build_standalone(arch), context.datamodule.num_classes, instantiate(retrain.optimizer), scheduler)
    trainer = pl.Trainer(
        max_epochs=cfg.benchmark.standalone_epochs,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=cfg.benchmark.standalone_epochs,
    )
    trainer.fit(module, datamodule=context.datamodule)
    return float(trainer.callback_metrics["val/acc"])


def ground_truth(cfg: DictConfig, context: RunContext, architectures, output_dir: Path) -> dict[str, list[float]]:
    """Validation accuracy per architecture hash and seed, read from an earlier file or trained here row by row."""
    seeds = list(range(cfg.benchmark.num_seeds))
    path = Path(cfg.benchmark.ground_truth_csv) if cfg.benchmark.ground_truth_csv else output_dir / "ground_truth.csv"
    truth: dict[str, list[float]] = {}
    if path.is_file():
        with path.open(newline="") as handle:
            truth = {row["hash"]: [float(row[f"seed{seed}"]) for seed in seeds] for row in csv.DictReader(handle)}
    missing = [arch for arch in architectures if arch.hash not in truth]
    output = output_dir / "ground_truth.csv"
    with output.open("a" if output == path and path.is_file() else "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["hash", *[f"seed{seed}" for seed in seeds]])
        if handle.tell() == 0:
            writer.writeheader()
            for key, values in truth.items():
                writer.writerow({"hash": key, **{f"seed{seed}": value for seed, value in zip(seeds, values)}})
        for index, arch in enumerate(missing, start=1):
            start = time.perf_counter()
            truth[arch.hash] = [standalone_accuracy(cfg, context, arch, seed) for seed in seeds]
            writer.writerow({"hash": arch.hash, **{f"seed{seed}": value for seed, value in zip(seeds, truth[arch.hash])}})
            handle.flush()
            log.info("Ground truth %d/%d %s: %s (%.1f s)", index, len(missing), arch.hash, truth[arch.hash], time.perf_counter() - start)
    return truth


def sampler_config(name: str) -> DictConfig:
    path = resources.files("lightning_oneshot.conf") / "sampler" / f"{name}.yaml"
    return OmegaConf.create(path.read_text())


def parity_plot(oneshot, truth, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 4))
    axis.scatter(truth, oneshot, s=18)
    axis.set_xlabel("standalone validation accuracy (mean over seeds)")
    axis.set_ylabel("one-shot validation accuracy")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


@hydra.main(config_path="../conf", config_name="ranking_quality", version_base="1.3")
def main(cfg: DictConfig) -> None:
    output_dir = Path(cfg.paths.output_dir)
    datamodule = instantiate(cfg.dataset)
    datamodule.setup("fit")
    space = instantiate(cfg.search_space, in_channels=datamodule.num_channels, num_classes=datamodule.num_classes)
    bench = cfg.benchmark
    architectures = list(random_architectures(space, bench.num_architectures, seed=cfg.seed))
    context = RunContext(cfg, output_dir, datamodule, space)

    truth_by_seed = ground_truth(cfg, context, architectures, output_dir)
    truth_matrix = np.array([truth_by_seed[arch.hash] for arch in architectures])
    truth = truth_matrix.mean(axis=1)
    half = max(1, bench.num_seeds // 2)
    noise_ceiling = kendall_tau(truth_matrix[:, :half].mean(axis=1), truth_matrix[:, half:].mean(axis=1))
    results = {
        "num_architectures": len(architectures),
        "num_seeds": bench.num_seeds,
        "standalone_epochs": bench.standalone_epochs,
        "supernet_epochs": cfg.trainer.max_epochs,
        "supernet_seed": bench.supernet_seed,
        "ground_truth_distinct_values": int(len(np.unique(truth))),
        "ground_truth_range": [float(truth.min()), float(truth.max())],
        "noise_ceiling_kendall_tau": noise_ceiling,
        "settings": {},
    }
    pairs = [{"hash": arch.hash, "architecture": arch.to_json(), "standalone_accuracy": float(value)} for arch, value in zip(architectures, truth)]

    calibration = datamodule.calibration_batches(cfg.evaluation.bn_batches, cfg.evaluation.batch_size, seed=cfg.seed)
    validation = datamodule.validation_batches(cfg.evaluation.batch_size)
    for sampler_name in bench.samplers:
        run_cfg = cfg.copy()
        with open_dict(run_cfg):
            run_cfg.sampler = sampler_config(sampler_name)
            run_cfg.sampler.seed = bench.supernet_seed
            run_cfg.paths.output_dir = str(output_dir / sampler_name)
        run_context = RunContext(run_cfg, output_dir / sampler_name, datamodule, space)
        run_context.sampler = instantiate(run_cfg.sampler, space=space)
        pl.seed_everything(bench.supernet_seed, workers=True, verbose=False)
        supernet = run_search(run_context)

        for reestimate in bench.bn_reestimation:
            name = f"{sampler_name}_bn{'_reestimated' if reestimate else '_supernet'}"
            scorer = Scorer(supernet, calibration if reestimate else [], validation)
            oneshot = [scorer.score(arch) for arch in architectures]
            report = ranking_report(oneshot, truth, bench.top_n)
            report["tau_over_noise_ceiling"] = report["kendall_tau"] / noise_ceiling if noise_ceiling > 0 else float("nan")
            results["settings"][name] = report
            for pair, value in zip(pairs, oneshot):
                pair[name] = value
            parity_plot(oneshot, truth, f"{name}: tau {report['kendall_tau']:.2f} (ceiling {noise_ceiling:.2f})", output_dir / f"parity_{name}.png")
            log.info("%s: %s", name, json.dumps(report))

    with (output_dir / "pairs.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(pairs[0]))
        writer.writeheader()
        writer.writerows(pairs)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2))
    log.info("Noise ceiling (Kendall tau between seed halves): %.3f; ground truth has %d distinct values.", noise_ceiling, results["ground_truth_distinct_values"])
    for name, report in results["settings"].items():
        log.info(
            "%-28s tau %.3f (%.2f of ceiling)  rho %.3f  tau_better_half %.3f  top%d %.2f  regret %.4f",
            name, report["kendall_tau"], report["tau_over_noise_ceiling"], report["spearman_rho"],
            report["kendall_tau_better_half"], bench.top_n, report[f"top{bench.top_n}_overlap"], report["regret"],
        )
    log.info("Wrote %s", output_dir / "results.json")


if __name__ == "__main__":
    main()
