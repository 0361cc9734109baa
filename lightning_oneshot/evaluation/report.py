"""The ranking report: a plot of the one-shot accuracy distribution, and its W&B counterparts."""

from __future__ import annotations

from pathlib import Path

from lightning_oneshot.evaluation.ranking import RankingEntry


def plot_ranking(entries: list[RankingEntry], path: Path) -> Path:
    """Save a histogram of one-shot accuracies and accuracy against parameters, with the best one marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [entry for entry in entries if entry.oneshot_val_accuracy == entry.oneshot_val_accuracy]
    accuracies = [entry.oneshot_val_accuracy for entry in scored]
    figure, (histogram, scatter) = plt.subplots(1, 2, figsize=(10, 4))

    histogram.hist(accuracies, bins=min(30, max(5, len(accuracies) // 3)), color="tab:blue", alpha=0.8)
    histogram.set_xlabel("one-shot validation accuracy")
    histogram.set_ylabel("architectures")
    histogram.set_title(f"{len(scored)} scored architectures")

    scatter.scatter([entry.params for entry in scored], accuracies, s=12, alpha=0.7)
    if scored:
        best = scored[0]
        scatter.scatter([best.params], [best.oneshot_val_accuracy], s=60, color="tab:red", label=f"best {best.hash}")
        scatter.legend(loc="lower right")
    scatter.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    scatter.set_xlabel("standalone parameters")
    scatter.set_ylabel("one-shot validation accuracy")

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
