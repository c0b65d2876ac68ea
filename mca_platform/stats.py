"""Statistics across seeds (evaluation.md, "Repeats and statistics", beyond the paper).

- `mean_interval`: the mean over seeds and a two-sided Student-t interval, mean +- t_{(1+c)/2, n-1} s / sqrt(n)
  with s the sample standard deviation; with fewer than two values the interval is None, never invented.
- `paired_difference`: the mean of a - b over the seeds present (finite) in both, and a percentile bootstrap
  interval for it (resampling the paired differences with replacement, seeded); None with fewer than two pairs.
- `summarise`: both, for every (dataset, sparsity) and metric, per architecture and for MCA - MMA.
Non-finite values (a diverged seed) are left out and counted, not averaged in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as student_t


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
        std = float(finite.std(ddof=1))
        half = float(student_t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
        out.update(std=std, low=out["mean"] - half, high=out["mean"] + half)
    return out


def paired_difference(
    a: Mapping, b: Mapping, n_resamples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> dict[str, float | int | None]:
    """Mean of a[k] - b[k] over keys (seeds) finite in both, with a seeded percentile bootstrap interval.

    Returns {mean, low, high, n_pairs, n_unpaired}; n_unpaired counts keys of either side left without a
    finite partner. low/high are None with fewer than two pairs.
    """
    keys = sorted(set(a) | set(b))
    paired = [k for k in keys if k in a and k in b and math.isfinite(a[k]) and math.isfinite(b[k])]
    differences = np.array([a[k] - b[k] for k in paired], dtype=np.float64)
    out: dict[str, float | int | None] = {"mean": None, "low": None, "high": None, "n_pairs": len(paired)}
    out["n_unpaired"] = len(keys) - len(paired)
    if not paired:
        return out
    out["mean"] = float(differences.mean())
    if len(paired) >= 2:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(paired), size=(n_resamples, len(paired)))
        means = differences[draws].mean(axis=1)
        tail = (1 - confidence) / 2
        out.update(low=float(np.quantile(means, tail)), high=float(np.quantile(means, 1 - tail)))
    return out


def summarise(
    rows,
    metrics: Sequence[str],
    arches: tuple[str, str] = ("mca", "mma"),
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> list[dict]:
    """One flat row per (dataset, sparsity, metric): `<arch>/{mean,low,high,std,n,n_nonfinite}` for each arch and
    `diff/{mean,low,high,n_pairs,n_unpaired}` for arches[0] - arches[1] paired by seed.

    rows: dicts or a DataFrame with columns dataset, sparsity, arch, seed and the metrics, one row per
    (dataset, sparsity, arch, seed) (raises on duplicates). A metric missing from a row counts as non-finite.
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.duplicated(["dataset", "sparsity", "arch", "seed"]).any():
        raise ValueError("summarise: more than one row per (dataset, sparsity, arch, seed)")
    out = []
    for (dataset, sparsity), cell in frame.groupby(["dataset", "sparsity"], sort=True):
        for metric in metrics:
            column = pd.to_numeric(cell[metric], errors="coerce") if metric in cell else pd.Series(np.nan, cell.index)
            by_arch = {arch: dict(zip(cell["seed"][cell["arch"] == arch], column[cell["arch"] == arch], strict=True))
                       for arch in arches}
            row: dict = {"dataset": dataset, "sparsity": float(sparsity), "metric": metric}
            for arch in arches:
                interval = mean_interval(list(by_arch[arch].values()), confidence)
                row.update({f"{arch}/{k}": v for k, v in interval.items()})
            difference = paired_difference(by_arch[arches[0]], by_arch[arches[1]], n_resamples, seed, confidence)
            row.update({f"diff/{k}": v for k, v in difference.items()})
            out.append(row)
    return out
