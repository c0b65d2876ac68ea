"""Seed statistics: t-intervals against scipy, honest missing intervals, the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mca_platform.stats import mean_interval, paired_difference, summarise


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12))
def test_mean_interval_matches_scipy(values):
    out = mean_interval(values)
    assert out["mean"] == pytest.approx(np.mean(values), abs=1e-9)
    if np.std(values) > 1e-6:
        low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
        assert (out["low"], out["high"]) == (pytest.approx(low), pytest.approx(high))
    assert out["low"] <= out["mean"] <= out["high"]


def test_one_seed_has_no_interval_and_non_finite_are_counted():
    assert mean_interval([0.7]) == {"mean": 0.7, "low": None, "high": None, "std": None, "n": 1, "n_nonfinite": 0}
    out = mean_interval([1.0, float("nan"), 3.0, float("inf")])
    assert (out["mean"], out["n"], out["n_nonfinite"]) == (2.0, 2, 2)
    assert mean_interval([])["mean"] is None


def test_paired_difference_pairs_by_seed():
    a = {0: 1.0, 1: 2.0, 2: 4.0, 3: 9.0}
    b = {0: 0.5, 1: 1.0, 2: 3.0, 5: 1.0}
    out = paired_difference(a, b, n_resamples=2000, seed=1)
    assert out["n_pairs"] == 3 and out["n_unpaired"] == 2
    assert out["mean"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert 0.5 <= out["low"] <= out["mean"] <= out["high"] <= 1.0
    assert paired_difference(a, b, n_resamples=2000, seed=1) == out  # seeded


def test_paired_difference_degenerate_cases():
    assert paired_difference({0: 1.0}, {0: 0.25}) == {"mean": 0.75, "low": None, "high": None, "n_pairs": 1,
                                                      "n_unpaired": 0}
    constant = paired_difference({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0})
    assert constant["low"] == constant["high"] == constant["mean"] == 1.0
    assert paired_difference({0: float("nan")}, {0: 1.0})["mean"] is None


def test_bootstrap_interval_close_to_t_interval_for_many_pairs():
    rng = np.random.default_rng(0)
    a = dict(enumerate(rng.normal(1.0, 1.0, 200)))
    b = dict(enumerate(rng.normal(0.0, 1.0, 200)))
    boot = paired_difference(a, b, n_resamples=4000, seed=0)
    t = mean_interval([a[k] - b[k] for k in a])
    assert boot["low"] == pytest.approx(t["low"], abs=0.05) and boot["high"] == pytest.approx(t["high"], abs=0.05)


def test_summarise_rows():
    rows = [
        {"dataset": "tcga", "sparsity": 0.0, "arch": arch, "seed": seed, "r@1": value}
        for arch, values in (("mca", [0.5, 0.6, 0.7]), ("mma", [0.4, 0.45, 0.5])) for seed, value in enumerate(values)
    ]
    (row,) = summarise(rows, ["r@1"], n_resamples=500)
    assert (row["dataset"], row["sparsity"], row["metric"]) == ("tcga", 0.0, "r@1")
    assert row["mca/mean"] == pytest.approx(0.6) and row["mma/n"] == 3
    assert row["diff/mean"] == pytest.approx(0.15) and row["diff/n_pairs"] == 3
    (missing,) = summarise(rows, ["absent"])
    assert missing["mca/mean"] is None and missing["mca/n_nonfinite"] == 3
    with pytest.raises(ValueError, match="more than one row"):
        summarise(rows + rows[:1], ["r@1"])
