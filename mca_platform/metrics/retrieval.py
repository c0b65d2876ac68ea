"""Retrieval from a query embedding to the fusion gallery (paper section 6, Fig. 5; evaluation.md "Retrieval").

Rank (0-based) of a query = the number of gallery items whose cosine similarity to the query is strictly higher
than that of its true match; 0 is best, ties count in the query's favour (the paper's rule, optimistic: in a
fully collapsed space every query has rank 0). So the ties are reported too: `tie_rate` is the fraction of
(query, other gallery item) pairs scoring exactly the true match's score, and `collapsed` is 1 where that is
at least COLLAPSED_TIE_RATE (the R@k there mean little). Reported:
- `median_rank_1based`: the median over queries of rank + 1 (numpy's median: the midpoint for an even count),
  so 1 means the true match is typically first;
- `r@k`: the fraction of queries with rank < k, i.e. the true match among the top k.

The paper's gallery is the fusion embeddings of the train and test splits (samples with no modality excluded),
so it shrinks as sparsity grows. The fixed-size variant puts each query against exactly K - 1 distractors,
drawn uniformly without replacement from the rest of the gallery, whatever the sparsity: then a random embedding
scores r@k = k / K at every sparsity. Given a query's full-gallery rank r (r of the G - 1 others beat it), its
rank among K - 1 random distractors is hypergeometric (G - 1 items, r successes, K - 1 draws), so the fixed-size
metrics are computed exactly as expectations over the distractor draw (`fixed_gallery_summary`; no seed, no
sampling noise in MCA - MMA differences), and `sample_fixed_gallery_ranks` draws one seeded realisation
(equivalent in distribution to drawing the distractors explicitly; tested against that).

Speed: rows are normalised once, then one matrix product per chunk of queries; the true-match score is read
from the same product (the same rounding as the items it is compared with). No Python loop per query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import gammaln

from mca_platform.metrics.geometry import finite_mean, left_out

KS = (1, 5, 10)
COLLAPSED_TIE_RATE = 0.5


def as_tensor(x, dtype: torch.dtype, name: str) -> torch.Tensor:
    """A (N, D) torch tensor of `dtype` on the CPU from a numpy array or tensor; raises on non-finite values."""
    x = torch.as_tensor(x).detach().to("cpu", dtype)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a (N, D) array, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: non-finite embedding values")
    return x


def retrieval_ranks(
    queries, gallery, match, chunk_size: int = 1024, dtype: torch.dtype = torch.float32
) -> np.ndarray:
    """(Q,) int64 0-based ranks of gallery[match[q]] for each query q; queries (Q, D), gallery (G, D), match (Q,)."""
    return ranks_and_ties(queries, gallery, match, chunk_size, dtype)[0]


def ranks_and_ties(
    queries, gallery, match, chunk_size: int = 1024, dtype: torch.dtype = torch.float32
) -> tuple[np.ndarray, np.ndarray]:
    """`retrieval_ranks` and (Q,) int64 ties: other gallery items scoring exactly the true match's score."""
    q = F.normalize(as_tensor(queries, dtype, "queries"), dim=1)
    g = F.normalize(as_tensor(gallery, dtype, "gallery"), dim=1)
    match = torch.as_tensor(np.asarray(match), dtype=torch.long).reshape(-1)
    if q.shape[1] != g.shape[1] or match.shape[0] != q.shape[0]:
        raise ValueError(f"shapes: queries {tuple(q.shape)}, gallery {tuple(g.shape)}, match {tuple(match.shape)}")
    if match.numel() and (int(match.min()) < 0 or int(match.max()) >= g.shape[0]):
        raise ValueError("match: every query's true match must be in the gallery")
    if g.shape[0] >= 2**24:
        raise ValueError("gallery too large for exact float counting (2^24 items)")
    ranks = torch.empty(q.shape[0], dtype=torch.int64)
    ties = torch.empty(q.shape[0], dtype=torch.int64)
    buffer = torch.empty(min(chunk_size, q.shape[0]), g.shape[0], dtype=dtype)
    with torch.inference_mode():
        for start in range(0, q.shape[0], chunk_size):
            stop = min(start + chunk_size, q.shape[0])
            scores = torch.mm(q[start:stop], g.T, out=buffer[: stop - start])  # (c, G) cosine similarities
            true = scores.gather(1, match[start:stop, None])  # (c, 1), a copy
            ties[start:stop] = scores.eq(true).sum(1) - 1  # the true match itself is not a tie
            ranks[start:stop] = scores.gt_(true).sum(1)  # 0/1 floats: exact counts below 2^24
    return ranks.numpy(), ties.numpy()


def tie_summary(ties: np.ndarray, gallery_size: int) -> dict[str, float]:
    """`tie_rate` (ties over all (query, other item) pairs) and `collapsed` (1.0 at >= COLLAPSED_TIE_RATE)."""
    ties = np.asarray(ties)
    if ties.size == 0 or gallery_size < 2:
        return {"tie_rate": float("nan"), "collapsed": float("nan")}
    rate = float(ties.sum() / (ties.size * (gallery_size - 1)))
    return {"tie_rate": rate, "collapsed": float(rate >= COLLAPSED_TIE_RATE)}


def recall_summary(ranks: np.ndarray, ks: Sequence[int] = KS) -> dict[str, float | int]:
    """`median_rank_1based`, `r@k` for k in ks and `n_queries` from 0-based ranks; NaN metrics when empty."""
    ranks = np.asarray(ranks)
    out: dict[str, float | int] = {"n_queries": int(ranks.size)}
    out["median_rank_1based"] = float(np.median(ranks + 1)) if ranks.size else float("nan")
    for k in ks:
        out[f"r@{k}"] = float(np.mean(ranks < k)) if ranks.size else float("nan")
    return out


def check_fixed_size(gallery_size: int, fixed_size: int) -> None:
    """Raise unless 1 <= fixed_size <= gallery_size."""
    if not 1 <= fixed_size <= gallery_size:
        raise ValueError(f"fixed gallery size {fixed_size} must be in [1, gallery size {gallery_size}]")


def log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log C(n, k) elementwise; -inf where k < 0 or k > n."""
    n, k = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(k, dtype=np.float64))
    valid = (k >= 0) & (k <= n)
    n, k = np.where(valid, n, 0.0), np.where(valid, k, 0.0)
    return np.where(valid, gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1), -np.inf)


def pooled_fixed_rank_cdf(ranks: np.ndarray, gallery_size: int, fixed_size: int, chunk_size: int = 256) -> np.ndarray:
    """(fixed_size,) mean over queries of P(rank among fixed_size - 1 random distractors <= j), j = 0 .. K - 1.

    Query q's fixed-gallery rank is hypergeometric: pmf(j) = C(r, j) C(G - 1 - r, K - 1 - j) / C(G - 1, K - 1)
    with r its full-gallery rank; evaluated in log space for the distinct ranks, weighted by their counts.
    """
    others, draws = gallery_size - 1, fixed_size - 1
    values, counts = np.unique(np.asarray(ranks, dtype=np.int64), return_counts=True)
    j = np.arange(draws + 1)
    total = np.zeros(draws + 1)
    for start in range(0, values.size, chunk_size):
        r = values[start : start + chunk_size, None]  # (c, 1)
        log_pmf = log_choose(r, j) + log_choose(others - r, draws - j) - log_choose(others, draws)  # (c, K)
        total += counts[start : start + chunk_size] @ np.cumsum(np.exp(log_pmf), axis=1)
    return np.minimum(total / counts.sum(), 1.0)


def fixed_gallery_summary(
    ranks: np.ndarray, gallery_size: int, fixed_size: int, ks: Sequence[int] = KS
) -> dict[str, float | int]:
    """Expected `r@k` and the median rank (1-based) against `fixed_size - 1` random distractors per query.

    r@k = mean_q P(rank_q < k). The median is that of the pooled rank distribution: the smallest m with
    mean_q P(rank_q + 1 <= m) >= 1/2. With fixed_size = gallery_size this is the full-gallery r@k and the
    lower median of rank + 1.
    """
    check_fixed_size(gallery_size, fixed_size)
    ranks = np.asarray(ranks, dtype=np.int64)
    out: dict[str, float | int] = {"n_queries": int(ranks.size), "gallery_size": int(fixed_size)}
    if ranks.size == 0:
        return out | {"median_rank_1based": float("nan")} | {f"r@{k}": float("nan") for k in ks}
    cdf = pooled_fixed_rank_cdf(ranks, gallery_size, fixed_size)
    out["median_rank_1based"] = float(np.argmax(cdf >= 0.5 - 1e-12) + 1)  # tolerance: rounding in the sums
    for k in ks:
        out[f"r@{k}"] = float(cdf[min(k, fixed_size) - 1])
    return out


def sample_fixed_gallery_ranks(ranks: np.ndarray, gallery_size: int, fixed_size: int, seed: int) -> np.ndarray:
    """0-based ranks against one seeded draw of `fixed_size - 1` distinct distractors per query."""
    check_fixed_size(gallery_size, fixed_size)
    ranks = np.asarray(ranks, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.hypergeometric(ranks, gallery_size - 1 - ranks, fixed_size - 1).astype(np.int64)


def retrieval_metrics(
    queries: Mapping[str, np.ndarray],
    query_present: Mapping[str, np.ndarray],
    fusion: np.ndarray,
    fusion_present: np.ndarray,
    train_fusion: np.ndarray,
    train_fusion_present: np.ndarray,
    fixed_size: int | None = None,
    ks: Sequence[int] = KS,
    chunk_size: int = 1024,
) -> dict[str, float | int]:
    """Per query set and averaged: median rank (1-based), r@k, on the paper's gallery and a fixed-size one.

    queries[name]: (N, D) test-split query embeddings (unimodal, or a subset's fusion), used where
    query_present[name] (N,) is True; fusion: (N, D) test fusion embeddings, fusion_present: (N,) bool (at least
    one modality); train_fusion (N_train, D) with train_fusion_present (N_train,). The gallery is the train then
    the test fusion rows that are present; a query's true match is its own sample's test fusion row, so a query
    whose sample has no fusion embedding raises. Keys: `<metric>/<name>`, `<metric>/mean` (mean over query
    sets with queries), `left_out/<metric>` (query sets without a value, left out of that mean), `tie_rate/...`
    and `collapsed/...` (full gallery), `fixed_<metric>/...` when fixed_size is given, `n_queries/<name>`,
    `gallery_size`, `n_excluded_no_modality/test`, `n_excluded_no_modality/train`.
    """
    fusion_present = np.asarray(fusion_present, dtype=bool)
    train_fusion_present = np.asarray(train_fusion_present, dtype=bool)
    gallery = np.concatenate([np.asarray(train_fusion)[train_fusion_present], np.asarray(fusion)[fusion_present]])
    # Gallery row of each test sample's fusion embedding (-1 where excluded).
    test_row = np.where(fusion_present, int(train_fusion_present.sum()) + np.cumsum(fusion_present) - 1, -1)
    out: dict[str, float | int] = {
        "gallery_size": int(gallery.shape[0]),
        "n_excluded_no_modality/test": int((~fusion_present).sum()),
        "n_excluded_no_modality/train": int((~train_fusion_present).sum()),
    }
    summaries: dict[str, dict[str, dict[str, float | int]]] = {"": {}, "fixed_": {}}
    for name, embedding in queries.items():
        rows = np.asarray(query_present[name], dtype=bool)
        if np.any(test_row[rows] < 0):
            raise ValueError(f"{name}: a query's sample has no fusion embedding in the gallery")
        ranks, ties = ranks_and_ties(np.asarray(embedding)[rows], gallery, test_row[rows], chunk_size)
        summaries[""][name] = recall_summary(ranks, ks) | tie_summary(ties, gallery.shape[0])
        if fixed_size is not None:
            summaries["fixed_"][name] = fixed_gallery_summary(ranks, gallery.shape[0], fixed_size, ks)
        out[f"n_queries/{name}"] = int(rows.sum())
    if fixed_size is not None:
        out["fixed_gallery_size"] = int(fixed_size)
    for prefix, by_name in summaries.items():
        extra = ["tie_rate", "collapsed"] if not prefix else []
        for metric in ["median_rank_1based", *(f"r@{k}" for k in ks), *extra] if by_name else []:
            values = [summary[metric] for summary in by_name.values()]
            for name, summary in by_name.items():
                out[f"{prefix}{metric}/{name}"] = summary[metric]
            out[f"{prefix}{metric}/mean"] = finite_mean(values)
            out[f"{prefix}left_out/{metric}"] = left_out(values)
    return out
