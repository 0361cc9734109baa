"""Ranking-quality measures: how well one-shot scores order architectures compared with standalone training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import kendalltau, spearmanr


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float:
    return float(kendalltau(first, second).statistic)


def spearman_rho(first: Sequence[float], second: Sequence[float]) -> float:
    return float(spearmanr(first, second).statistic)


def top_overlap(predicted: Sequence[float], truth: Sequence[float], n: int) -> float:
    """Return the fraction of the ``n`` best by ``truth`` that are also among the ``n`` best by ``predicted``."""
    n = min(n, len(truth))
    best_predicted = set(np.argsort(-np.asarray(predicted), kind="stable")[:n])
    best_truth = set(np.argsort(-np.asarray(truth), kind="stable")[:n])
    return len(best_predicted & best_truth) / n


def regret(predicted: Sequence[float], truth: Sequence[float]) -> float:
    """Best true accuracy minus the true accuracy of the architecture that ``predicted`` ranks first."""
    truth = np.asarray(truth)
    return float(truth.max() - truth[int(np.argmax(np.asarray(predicted)))])


def ranking_report(predicted: Sequence[float], truth: Sequence[float], top_n: int) -> dict[str, float]:
    """Kendall tau and Spearman rho over all architectures and over the better half by ``truth``, top-n overlap, regret."""
    predicted, truth = np.asarray(predicted, dtype=float), np.asarray(truth, dtype=float)
    better_half = np.argsort(-truth, kind="stable")[: max(2, len(truth) // 2)]
    return {
        "kendall_tau": kendall_tau(predicted, truth),
        "spearman_rho": spearman_rho(predicted, truth),
        "kendall_tau_better_half": kendall_tau(predicted[better_half], truth[better_half]),
        "spearman_rho_better_half": spearman_rho(predicted[better_half], truth[better_half]),
        f"top{top_n}_overlap": top_overlap(predicted, truth, top_n),
        "regret": regret(predicted, truth),
    }
