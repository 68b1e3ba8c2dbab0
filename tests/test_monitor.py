"""Drift statistics and canary checks of chapter 15 (ftcourse.monitor)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ftcourse import corpora, monitor
from ftcourse.monitor import Canary, Slice


def test_psi_by_hand():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    by_hand = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert monitor.psi_from_shares([0.5, 0.5], [0.25, 0.75]) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.27465, abs=1e-5)
    assert monitor.psi_from_counts([10, 10], [5, 15]) == pytest.approx(by_hand)
    # symmetric in its two arguments, zero only for identical shares
    assert monitor.psi_from_shares([0.25, 0.75], [0.5, 0.5]) == pytest.approx(by_hand)
    assert monitor.psi_from_shares([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_empty_bin_is_finite_and_large():
    value = monitor.psi_from_shares([0.5, 0.5, 0.0], [0.4, 0.4, 0.2])
    assert math.isfinite(value) and value > 1.0


def test_psi_rejects_bad_input():
    with pytest.raises(ValueError, match="sum to"):
        monitor.psi_from_shares([3, 7], [5, 5])
    with pytest.raises(ValueError, match="same length"):
        monitor.psi_from_shares([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="negative"):
        monitor.psi_from_shares([1.5, -0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="at least one count"):
        monitor.psi_from_counts([0, 0], [1, 1])
    with pytest.raises(ValueError, match="not among the categories"):
        monitor.categorical_psi(["a", "b"], ["a", "c"], ["a", "b"])


def test_numeric_psi_uses_the_reference_quantiles():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 2000)
    edges = monitor.quantile_edges(reference, bins=4)
    assert len(edges) == 3
    assert monitor.histogram(reference, edges).tolist() == [500, 500, 500, 500]
    assert monitor.population_stability_index(reference, reference, bins=4) == 0.0
    same = monitor.population_stability_index(reference, rng.normal(0, 1, 2000), bins=5)
    moved = monitor.population_stability_index(reference, rng.normal(1, 1, 2000), bins=5)
    assert same < monitor.PSI_WATCH < monitor.PSI_ALERT < moved


def test_categorical_psi():
    assert monitor.categorical_psi(["a", "b"] * 10, ["b", "a"] * 5, ["a", "b"]) == 0.0
    assert monitor.categorical_psi(["a", "b"] * 10, ["a"] * 9 + ["b"], ["a", "b"]) > monitor.PSI_ALERT


def _fake_slice(texts: list[str]) -> Slice:
    """Predictions from a word rule: enough to give the slices realistic label and score spreads."""
    labels, scores = [], []
    for text in texts:
        good = sum(w in text for w in corpora.POSITIVE) - sum(w in text for w in corpora.NEGATIVE)
        labels.append("POSITIVE" if good > 0 else "NEGATIVE")
        scores.append(0.5 + 0.5 * (1 - math.exp(-abs(good))))
    return Slice(texts, labels, scores)


@pytest.fixture(scope="module")
def slices() -> dict[str, Slice]:
    return {
        "reference": _fake_slice([t for _, t in corpora.generate_reviews(300, seed=5)]),
        "same": _fake_slice([t for _, t in corpora.generate_reviews(300, seed=6)]),
        "shifted": _fake_slice([t for _, t in corpora.generate_yelp(300, seed=5)]),
    }


def test_drift_check_identical_and_same_distribution_slices_pass(slices):
    identical = monitor.drift_check(slices["reference"], slices["reference"], ["NEGATIVE", "POSITIVE"])
    assert not identical and identical.drifted == []
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in identical.psi().values())
    assert set(identical.psi()) == set(monitor.FEATURES)
    same = monitor.drift_check(slices["reference"], slices["same"], ["NEGATIVE", "POSITIVE"])
    assert same.drifted == [] and max(same.psi().values()) < monitor.PSI_WATCH


def test_drift_check_flags_a_shifted_slice(slices):
    report = monitor.drift_check(slices["reference"], slices["shifted"], ["NEGATIVE", "POSITIVE"])
    assert report and {"length", "vocabulary"} <= set(report.drifted)
    assert report.features["vocabulary"].level == "shift"
    table = report.to_markdown()
    assert "| vocabulary |" in table and "shift" in table
    # a higher threshold flags less
    lenient = monitor.drift_check(slices["reference"], slices["shifted"], ["NEGATIVE", "POSITIVE"],
                                  threshold=1e9)
    assert lenient.drifted == []


def test_unseen_rate():
    assert monitor.unseen_rate(["the cat sat"], ["the cat sat"]) == 0.0
    assert monitor.unseen_rate(["the cat sat"], ["the dog sat down"]) == pytest.approx(0.5)


def test_slice_validation_and_prediction_formats():
    with pytest.raises(ValueError, match="one label and one score per text"):
        Slice(["a", "b"], ["x"], [0.9])
    with pytest.raises(ValueError, match="at least one text"):
        Slice([], [], [])
    from ftcourse.serve import Prediction

    preds = [Prediction("POSITIVE", 0.9, {}), {"label": "NEGATIVE", "score": 0.7}, ("POSITIVE", 0.6)]
    s = Slice.from_predictions(["a", "b", "c"], preds)
    assert s.labels == ["POSITIVE", "NEGATIVE", "POSITIVE"] and s.scores == [0.9, 0.7, 0.6]
    with pytest.raises(TypeError, match="label and a score"):
        Slice.from_predictions(["a"], [42])


CANARIES = [
    Canary("clear-positive", "a wonderful film", "POSITIVE"),
    Canary("clear-negative", "a dull film", "NEGATIVE"),
    Canary("negation", "not good at all", "NEGATIVE"),
]


def _rule(texts):
    return [("POSITIVE", 0.9) if ("wonderful" in t or "good" in t) else ("NEGATIVE", 0.8) for t in texts]


def test_canaries_report_failures_by_name():
    report = monitor.run_canaries(_rule, CANARIES)
    assert not report.passed and report.failures == ["negation"]
    text = str(report)
    assert "2/3 canaries passed" in text and "negation: FAILED" in text and "'POSITIVE'" in text
    with pytest.raises(monitor.CanaryFailure, match="negation") as info:
        report.raise_for_failures()
    assert "clear-positive" not in str(info.value)
    assert monitor.run_canaries(_rule, CANARIES[:2]).passed
    monitor.run_canaries(_rule, CANARIES[:2]).raise_for_failures()  # nothing to raise


def test_canaries_min_score_and_formats():
    low = monitor.run_canaries(_rule, CANARIES[:2], min_score=0.85)
    assert low.failures == ["clear-negative"] and "below 0.85" in str(low)
    as_dicts = monitor.run_canaries(lambda ts: [{"label": lbl, "score": s} for lbl, s in _rule(ts)], CANARIES)
    assert as_dicts.failures == ["negation"]


def test_canaries_reject_bad_setups():
    with pytest.raises(ValueError, match="unique"):
        monitor.run_canaries(_rule, [CANARIES[0], CANARIES[0]])
    with pytest.raises(ValueError, match="at least one canary"):
        monitor.run_canaries(_rule, [])
    with pytest.raises(ValueError, match="2 predictions for 3 canaries"):
        monitor.run_canaries(lambda ts: _rule(ts)[:2], CANARIES)
