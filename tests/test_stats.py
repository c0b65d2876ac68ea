"""Seed statistics: intervals against scipy, their coverage by simulation at 3, 5 and 10 seeds, paired tests,
Holm and Benjamini-Hochberg against loop references, and the error rate of the marking at the paper grid's size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mca_platform.stats import adjust, compare, mean_interval, paired_difference, t_interval, t_test_p

PAPER_GRID = 690  # ~69 metrics x 5 sparsities x 2 datasets, one MCA - MMA comparison each


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


@pytest.mark.parametrize("n", [3, 5, 10])
def test_default_interval_covers_the_true_difference_at_3_5_and_10_seeds(n):
    rng = np.random.default_rng(n)
    true = 0.3
    differences = rng.normal(true, 1.0, size=(20_000, n))  # 20k replicate sweeps of n seeds each
    _, low, high = t_interval(differences)
    coverage = float(np.mean((low <= true) & (true <= high)))
    assert 0.93 <= coverage <= 0.97, coverage
    p = t_test_p(differences - true)  # the paired test at the true value rejects at its level
    assert 0.03 <= float(np.mean(p <= 0.05)) <= 0.07


def test_paired_difference_t_interval_test_and_effect_size_against_scipy():
    a = {0: 1.0, 1: 2.0, 2: 4.0, 3: 9.0}
    b = {0: 0.5, 1: 1.0, 2: 3.5, 5: 1.0}
    out = paired_difference(a, b)
    d = np.array([0.5, 1.0, 0.5])
    assert (out["n"], out["n_unpaired"], out["few_seeds"], out["interval"]) == (3, 2, True, "t")
    assert out["mean"] == pytest.approx(d.mean()) and out["sd"] == pytest.approx(d.std(ddof=1))
    assert out["dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert out["p"] == pytest.approx(stats.ttest_rel([1.0, 2.0, 4.0], [0.5, 1.0, 3.5]).pvalue)
    low, high = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert (out["low"], out["high"]) == (pytest.approx(low), pytest.approx(high))


def test_paired_difference_degenerate_cases():
    one = paired_difference({0: 1.0}, {0: 0.25})
    assert (one["mean"], one["low"], one["p"], one["dz"], one["n"]) == (0.75, None, None, None, 1)
    constant = paired_difference({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0})
    assert constant["low"] == constant["high"] == constant["mean"] == 1.0
    assert constant["p"] == 0.5 and constant["dz"] is None  # exact sign-flip p: 2 of 2^2 sign patterns
    ten = paired_difference(dict(enumerate([3.0] * 10)), dict(enumerate([1.0] * 10)))
    assert ten["p"] == pytest.approx(2 / 2**10)
    assert paired_difference({0: 1.0, 1: 2.0}, {0: 1.0, 1: 2.0})["p"] == 1.0
    assert paired_difference({0: float("nan")}, {0: 1.0})["mean"] is None
    with pytest.raises(ValueError, match="interval 'percentile'"):
        paired_difference({0: 1.0}, {0: 1.0}, interval="percentile")


def test_bootstrap_is_a_labelled_option_used_only_from_ten_seeds():
    rng = np.random.default_rng(0)
    three = dict(enumerate(rng.normal(size=3))), dict(enumerate(rng.normal(size=3)))
    out = paired_difference(*three, interval="bootstrap", n_resamples=500)
    assert out["interval"] == "t" and out == paired_difference(*three)  # 3 seeds: the bootstrap is refused
    ten = dict(enumerate(rng.normal(1.0, 1.0, 10))), dict(enumerate(rng.normal(0.0, 1.0, 10)))
    boot = paired_difference(*ten, interval="bootstrap", n_resamples=4000, seed=1)
    assert boot["interval"] == "bootstrap" and boot == paired_difference(*ten, interval="bootstrap",
                                                                          n_resamples=4000, seed=1)
    t = paired_difference(*ten)
    assert boot["low"] != t["low"] and boot["low"] == pytest.approx(t["low"], abs=0.5)


def holm_reference(p):
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def bh_reference(p):
    m = len(p)
    return [min(1.0, min(m * p[j] / (sum(p[k] <= p[j] for k in range(m))) for j in range(m) if p[j] >= p[i]))
            for i in range(m)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=25))
def test_holm_and_bh_match_loop_references(p):
    assert adjust(p, "holm") == pytest.approx(holm_reference(p))
    assert adjust(p, "bh") == pytest.approx(bh_reference(p))


def test_adjust_leaves_nan_out_of_the_family_and_rejects_unknown_methods():
    out = adjust([0.01, float("nan"), 0.04], "holm")
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.04])
    with pytest.raises(ValueError, match="correction 'bonferoni'"):
        adjust([0.1], "bonferoni")


@pytest.mark.parametrize(("correction", "seeds"), [("holm", 3), ("holm", 5), ("bh", 3)])
def test_marking_under_no_true_difference_at_the_paper_grid_size(correction, seeds):
    """Familywise error (Holm) or, under the global null equal to it, the false discovery rate (BH) of the marked
    cells stays at 5% over ~690 comparisons; unmarked by correction, ~35 cells per report would be marked."""
    rng = np.random.default_rng(seeds)
    sweeps = rng.normal(size=(400, PAPER_GRID, seeds))  # 400 simulated reports, no true difference anywhere
    p = t_test_p(sweeps)
    any_marked = [bool((adjust(row, correction) <= 0.05).any()) for row in p]
    assert float(np.mean(any_marked)) <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 400)
    assert float((p <= 0.05).sum(axis=1).mean()) == pytest.approx(0.05 * PAPER_GRID, rel=0.1)


def grid(rng, n_metrics=3, seeds=(0, 1, 2), arches=("mca", "mma"), effect=0.0):
    rows = []
    for dataset in ("tcga", "mosei"):
        for sparsity in (0.0, 0.4):
            for seed in seeds:
                shared = rng.normal(size=n_metrics)  # seed-level noise both architectures share
                for arch in arches:
                    values = shared + rng.normal(0, 0.01, n_metrics) + (effect if arch != "mma" else 0.0)
                    rows.append({"dataset": dataset, "sparsity": sparsity, "arch": arch, "seed": seed,
                                 **{f"g.m{j}": v for j, v in enumerate(values)}})
    return pd.DataFrame(rows)


def test_compare_pairs_every_architecture_with_the_baseline_over_a_declared_family():
    frame = grid(np.random.default_rng(0), arches=("mca", "mma", "dense"), effect=1.0)
    metrics = ["g.m0", "g.m1", "g.m2"]
    out = compare(frame, metrics, baseline="mma")
    assert sorted(set(out["arch"])) == ["dense", "mca"] and set(out["baseline"]) == {"mma"}
    assert len(out) == 2 * 2 * 3 * 2 and set(out["family_size"]) == {24}
    assert out["significant"].all() and (out["n"] == 3).all() and out["few_seeds"].all()
    assert out["p_adjusted"].to_numpy() == pytest.approx(adjust(out["p"], "holm"))
    per_dataset = compare(frame, metrics, family="dataset", correction="bh")
    assert set(per_dataset["family_size"]) == {12}
    cell = frame[(frame["dataset"] == "tcga") & (frame["sparsity"] == 0.0)]
    a, b = (dict(zip(cell.loc[cell["arch"] == x, "seed"], cell.loc[cell["arch"] == x, "g.m1"], strict=True))
            for x in ("dense", "mma"))
    row = out[(out["dataset"] == "tcga") & (out["sparsity"] == 0.0) & (out["metric"] == "g.m1")
              & (out["arch"] == "dense")].iloc[0]
    assert row["mean"] == pytest.approx(paired_difference(a, b)["mean"])
    assert compare(frame, metrics, baseline="absent").empty
    with pytest.raises(ValueError, match="family 'cell'"):
        compare(frame, metrics, family="cell")


def test_compare_marks_nothing_without_a_difference():
    out = compare(grid(np.random.default_rng(1)), ["g.m0", "g.m1", "g.m2"])
    assert not out["significant"].any() and (out["arch"] == "mca").all()
