import pytest

from lightning_oneshot.evaluation.correlation import kendall_tau, ranking_report, regret, top_overlap


def test_kendall_tau_of_identical_and_reversed_orders():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)


def test_top_overlap_counts_shared_best():
    assert top_overlap([0.9, 0.8, 0.1, 0.2], [0.9, 0.1, 0.8, 0.2], n=2) == 0.5


def test_regret_is_loss_of_predicted_best():
    assert regret([0.1, 0.9, 0.5], [0.95, 0.90, 0.99]) == pytest.approx(0.09)


def test_report_on_a_perfect_predictor():
    truth = [0.5, 0.7, 0.6, 0.9, 0.8, 0.4]
    report = ranking_report(truth, truth, top_n=2)
    assert report["kendall_tau"] == pytest.approx(1.0)
    assert report["kendall_tau_better_half"] == pytest.approx(1.0)
    assert report["top2_overlap"] == 1.0
    assert report["regret"] == 0.0
