"""Statistics across seeds (evaluation.md, "Repeats and statistics", beyond the paper), written not to overclaim.

- `t_interval`: mean and two-sided Student-t interval, mean +- t_{(1+c)/2, n-1} s / sqrt(n), vectorised over
  leading axes (the simulation tests call it on thousands of replicates at once).
- `mean_interval`: that interval for one list of seeds (non-finite seeds counted, not averaged in).
- `paired_difference`: arch - baseline paired by seed: mean, the t interval of the differences (default) or a
  percentile bootstrap (a labelled option, used only from MIN_BOOTSTRAP_SEEDS pairs: below that its interval is
  far too narrow, e.g. exactly [min, max] with 3 seeds), the two-sided paired t-test p value and the effect
  size dz = mean / SD of the differences. n is always reported; `few_seeds` flags n < FEW_SEEDS.
- `adjust`: Holm (familywise error) or Benjamini-Hochberg (false discovery rate) adjusted p values.
- `compare`: every (dataset, sparsity, metric, arch) against the declared baseline, adjusted over the declared
  family (every comparison in the table, or per dataset); `significant` is the corrected decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

FEW_SEEDS = 5
MIN_BOOTSTRAP_SEEDS = 10
CORRECTIONS = ("holm", "bh")


def t_interval(values, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) over the last axis of finite values (n >= 2): arrays of the leading shape."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    mean = values.mean(axis=-1)
    half = student_t.ppf((1 + confidence) / 2, n - 1) * values.std(axis=-1, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def t_test_p(differences) -> np.ndarray:
    """Two-sided one-sample t-test p values of mean 0 over the last axis (n >= 2). Where every difference is the
    same (SD 0, e.g. integer ranks) the t statistic is undefined: a constant non-zero difference gets the exact
    sign-flip p value 2 / 2^n (never 0: with 2 seeds it is 0.5), a constant zero gets 1."""
    differences = np.asarray(differences, dtype=np.float64)
    n = differences.shape[-1]
    mean, sd = differences.mean(axis=-1), differences.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.abs(mean) / (sd / math.sqrt(n))
    p = 2 * student_t.sf(statistic, n - 1)
    return np.where(sd > 0, p, np.where(mean != 0, 2.0 * 0.5**n, 1.0))


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | int | None]:
    """{mean, low, high, std, n, n_nonfinite} of the finite values; low/high None when n < 2, mean None when n = 0."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    out: dict[str, float | int | None] = {"mean": None, "low": None, "high": None, "std": None, "n": n}
    out["n_nonfinite"] = int(values.size - n)
    if n == 0:
        return out
    out["mean"] = float(finite.mean())
    if n >= 2:
        _, low, high = t_interval(finite, confidence)
        out.update(std=float(finite.std(ddof=1)), low=float(low), high=float(high))
    return out


def paired_difference(
    a: Mapping, b: Mapping, confidence: float = 0.95, interval: str = "t", n_resamples: int = 10_000, seed: int = 0
) -> dict[str, float | int | bool | str | None]:
    """a[k] - b[k] over the keys (seeds) finite in both.

    Returns {mean, low, high, sd, dz, p, n, n_unpaired, few_seeds, interval}: `interval` names the method used
    ("t", or "bootstrap" only when asked for and n >= MIN_BOOTSTRAP_SEEDS, else "t"); low/high/sd/p are None
    with fewer than two pairs, dz None also when sd is 0.
    """
    if interval not in ("t", "bootstrap"):
        raise ValueError(f"interval {interval!r}: expected 't' or 'bootstrap'")
    keys = sorted(set(a) | set(b), key=str)
    paired = [k for k in keys if k in a and k in b and math.isfinite(a[k]) and math.isfinite(b[k])]
    differences = np.array([a[k] - b[k] for k in paired], dtype=np.float64)
    n = len(paired)
    out: dict[str, float | int | bool | str | None] = {
        "mean": None, "low": None, "high": None, "sd": None, "dz": None, "p": None, "n": n,
        "n_unpaired": len(keys) - n, "few_seeds": n < FEW_SEEDS, "interval": "t"}
    if not paired:
        return out
    out["mean"] = float(differences.mean())
    if n < 2:
        return out
    sd = float(differences.std(ddof=1))
    _, low, high = t_interval(differences, confidence)
    out.update(sd=sd, dz=out["mean"] / sd if sd > 0 else None, p=float(t_test_p(differences)),
               low=float(low), high=float(high))
    if interval == "bootstrap" and n >= MIN_BOOTSTRAP_SEEDS:
        draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
        means = differences[draws].mean(axis=1)
        tail = (1 - confidence) / 2
        out.update(low=float(np.quantile(means, tail)), high=float(np.quantile(means, 1 - tail)), interval="bootstrap")
    return out


def adjust(p_values, method: str = "holm") -> np.ndarray:
    """Adjusted p values over the family of the finite entries (NaN stays NaN and is not in the family).

    holm: step-down, controls the familywise error; bh: Benjamini-Hochberg step-up, controls the false
    discovery rate (for independent or positively dependent tests). Reject where adjusted <= alpha.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    at = np.flatnonzero(np.isfinite(p))
    m = at.size
    if m == 0:
        return out
    order = np.argsort(p[at], kind="stable")
    ranked = p[at][order]
    match method:
        case "holm":
            adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
        case "bh":
            adjusted = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
        case other:
            raise ValueError(f"correction {other!r}: expected one of {', '.join(CORRECTIONS)}")
    out[at[order]] = np.minimum(adjusted, 1.0)
    return out


COMPARE_COLUMNS = ["dataset", "sparsity", "metric", "arch", "baseline", "mean", "low", "high", "sd", "dz", "p",
                   "p_adjusted", "significant", "n", "n_unpaired", "few_seeds", "interval", "family_size"]


def compare(
    frame: pd.DataFrame,
    metrics: Sequence[str],
    baseline: str = "mma",
    correction: str = "holm",
    alpha: float = 0.05,
    family: str = "sweep",
    confidence: float = 0.95,
    interval: str = "t",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired arch - baseline for every other arch, (dataset, sparsity) and metric, one row each (COMPARE_COLUMNS).

    frame: one row per (dataset, sparsity, arch, seed) with the metric columns. The family over which p values
    are adjusted is every row of the result (`family="sweep"`) or each dataset's rows (`"dataset"`);
    `significant` = adjusted p <= alpha. Without the baseline in the frame the result is empty.
    """
    if family not in ("sweep", "dataset"):
        raise ValueError(f"family {family!r}: expected 'sweep' or 'dataset'")
    rows = []
    if baseline in set(frame["arch"]):
        for (dataset, sparsity), cell in frame.groupby(["dataset", "sparsity"], sort=True):
            by_arch = {arch: side for arch, side in cell.groupby("arch", sort=True)}
            if baseline not in by_arch:
                continue
            for arch in [a for a in by_arch if a != baseline]:
                for metric in metrics:
                    a, b = (_by_seed(by_arch[x], metric) for x in (arch, baseline))
                    difference = paired_difference(a, b, confidence, interval, n_resamples, seed)
                    rows.append({"dataset": dataset, "sparsity": float(sparsity), "metric": metric, "arch": arch,
                                 "baseline": baseline, **difference})
    out = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    groups = [out.index] if family == "sweep" else [g.index for _, g in out.groupby("dataset")]
    for index in groups:
        p = pd.to_numeric(out.loc[index, "p"], errors="coerce").to_numpy(dtype=float)
        out.loc[index, "p_adjusted"] = adjust(p, correction)
        out.loc[index, "family_size"] = int(np.isfinite(p).sum())
    out["significant"] = pd.to_numeric(out["p_adjusted"], errors="coerce").le(alpha)
    for column in ("mean", "low", "high", "sd", "dz", "p", "p_adjusted"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out


def _by_seed(side: pd.DataFrame, metric: str) -> dict:
    values = pd.to_numeric(side[metric], errors="coerce") if metric in side else pd.Series(np.nan, side.index)
    return dict(zip(side["seed"], values.astype(float), strict=True))
