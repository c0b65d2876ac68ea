"""Uniformity and alignment of embedding spaces (Wang and Isola 2020; paper section 6, Fig. 4 and 9.7-9.10).

- uniformity(x) = log mean_{i<j} exp(-t ||x_i - x_j||^2) over distinct pairs, t = 2; lower is more uniform.
- alignment(x, y) = mean_i ||x_i - y_i||^alpha over positive pairs (row i of x with row i of y), alpha = 2;
  lower is better aligned. Positive pair here: a sample's unimodal embedding and its fusion embedding.

The standard metrics L2-normalise the rows first (`normalised=True`). The authors' scripts also logged the
same formulas on raw embeddings; those are reported under keys with the `_unnormalised` suffix. Uniformity is
computed as a chunked log-sum-exp over the upper triangle of the pairwise squared-distance matrix, so it is
exact for raw embeddings too, where exp(-t d) underflows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.special import logsumexp

from mca_platform.metrics.presence import any_present, as_matrix

EPS = 1e-12


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, EPS)


def uniformity(x, t: float = 2.0, normalised: bool = True, chunk_size: int = 256) -> float:
    """log mean exp(-t ||x_i - x_j||^2) over the N(N-1)/2 pairs i < j of x (N, D); NaN when N < 2."""
    x = as_matrix(x)
    n = x.shape[0]
    if n < 2:
        return math.nan
    if normalised:
        x = l2_normalise(x)
    squares = np.einsum("nd,nd->n", x, x)
    column = np.arange(n)
    partial = []
    for start in range(0, n - 1, chunk_size):
        rows, later = slice(start, min(start + chunk_size, n)), slice(start, n)  # pairs i < j need only j >= start
        # ||a - b||^2 = |a|^2 + |b|^2 - 2 a.b, clamped: rounding can make it slightly negative.
        distance = np.maximum(squares[rows, None] + squares[None, later] - 2.0 * (x[rows] @ x[later].T), 0.0)
        upper = column[None, later] > column[rows, None]
        partial.append(logsumexp(np.where(upper, -t * distance, -np.inf)))
    return float(logsumexp(partial) - math.log(n * (n - 1) / 2))


def alignment(x, y, alpha: float = 2.0, normalised: bool = True) -> float:
    """mean ||x_i - y_i||^alpha over the rows of x, y (N, D); NaN when N = 0."""
    x, y = as_matrix(x, "x"), as_matrix(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"alignment: x {x.shape} and y {y.shape} differ in shape")
    if x.shape[0] == 0:
        return math.nan
    if normalised:
        x, y = l2_normalise(x), l2_normalise(y)
    return float(np.mean(np.linalg.norm(x - y, axis=1) ** alpha))


def geometry_metrics(
    unimodal: Mapping[str, np.ndarray],
    fusion: np.ndarray,
    present: Mapping[str, np.ndarray],
    t: float = 2.0,
    alpha: float = 2.0,
) -> dict[str, float | int]:
    """Uniformity (fusion, per modality, unimodal mean) and alignment (per modality, mean) on one split.

    unimodal[m]: (N, D) unimodal embeddings (rows where present[m] is False are ignored); fusion: (N, D) fusion
    embeddings (for MCA the all-modality fusion channel); present[m]: (N,) bool. Samples with no modality are
    excluded everywhere (`n_excluded_no_modality`). Keys: `uniformity/fusion`, `uniformity/<m>`,
    `uniformity/unimodal_mean`, `alignment/<m>`, `alignment/mean`, the same with `_unnormalised` after the
    metric name, and counts `n/fusion`, `n/<m>`. Means are over modalities with a finite value.
    """
    fusion = as_matrix(fusion, "fusion")
    keep = any_present(present)
    if keep.shape[0] != fusion.shape[0]:
        raise ValueError(f"present has {keep.shape[0]} samples, fusion {fusion.shape[0]}")
    out: dict[str, float | int] = {"n/fusion": int(keep.sum()), "n_excluded_no_modality": int((~keep).sum())}
    for normalised, suffix in ((True, ""), (False, "_unnormalised")):
        out[f"uniformity{suffix}/fusion"] = uniformity(fusion[keep], t, normalised)
        uniform, aligned = [], []
        for name, embedding in unimodal.items():
            rows = np.asarray(present[name], dtype=bool)
            embedding = as_matrix(embedding, name)[rows]
            out[f"n/{name}"] = int(rows.sum())
            out[f"uniformity{suffix}/{name}"] = uniformity(embedding, t, normalised)
            out[f"alignment{suffix}/{name}"] = alignment(embedding, fusion[rows], alpha, normalised)
            uniform.append(out[f"uniformity{suffix}/{name}"])
            aligned.append(out[f"alignment{suffix}/{name}"])
        out[f"uniformity{suffix}/unimodal_mean"] = finite_mean(uniform)
        out[f"alignment{suffix}/mean"] = finite_mean(aligned)
        out[f"left_out{suffix}/uniformity_unimodal_mean"] = left_out(uniform)
        out[f"left_out{suffix}/alignment_mean"] = left_out(aligned)
    return out


def left_out(values: list[float]) -> int:
    """How many values `finite_mean` leaves out (a modality with < 2 present samples, or NaN): recorded next
    to every modality mean, so means over different sets of modalities are never compared silently."""
    return sum(not math.isfinite(value) for value in values)


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values; NaN when there are none (see `left_out`)."""
    finite = [value for value in values if math.isfinite(value)]
    return float(np.mean(finite)) if finite else math.nan
