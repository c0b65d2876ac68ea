"""Modality-subset analysis (evaluation.md, "Modality-subset evaluation", beyond the paper).

An embedding should be about the same whichever modalities are present. For each test sample and each proper,
non-empty subset S of its present modalities, compare the fusion embedding computed from S alone with the one
computed from all its present modalities (cosine similarity). The model runs that embed the subsets are the
caller's; this module enumerates subsets, says which samples each applies to, and summarises.
Subset names join modality names with "+" in the given modality order, e.g. "gene+protein".
Retrieval from each subset reuses `retrieval.retrieval_metrics` with queries {subset_name(S): embeddings} and
query_present {subset_name(S): subset_applies(present, S)}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from mca_platform.metrics.geometry import l2_normalise
from mca_platform.metrics.presence import as_matrix


def modality_subsets(modalities: Sequence[str], max_size: int | None = None) -> list[tuple[str, ...]]:
    """Proper non-empty subsets of `modalities` (sizes 1 .. M - 1, at most max_size), smallest first."""
    largest = len(modalities) - 1 if max_size is None else min(max_size, len(modalities) - 1)
    return [subset for size in range(1, largest + 1) for subset in combinations(modalities, size)]


def subset_name(subset: Sequence[str]) -> str:
    """The stable name of a subset: its modality names joined by '+'."""
    return "+".join(subset)


def subset_applies(present: Mapping[str, np.ndarray], subset: Sequence[str]) -> np.ndarray:
    """(N,) bool: samples that have every modality of `subset` and at least one modality outside it."""
    inside = np.logical_and.reduce([np.asarray(present[name], dtype=bool) for name in subset])
    outside = [np.asarray(present[name], dtype=bool) for name in present if name not in subset]
    return inside & np.logical_or.reduce(outside) if outside else np.zeros_like(inside)


def row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) cosine similarity of the rows of a and b (N, D)."""
    return np.einsum("nd,nd->n", l2_normalise(a), l2_normalise(b))


def subset_similarity(
    full: np.ndarray, by_subset: Mapping[tuple[str, ...], np.ndarray], present: Mapping[str, np.ndarray]
) -> dict[str, float | int]:
    """Mean cosine between each subset's fusion embedding and the all-present one, over the samples it applies to.

    full: (N, D) fusion embeddings from all present modalities; by_subset[S]: (N, D) fusion embeddings from the
    modalities in S only (rows where S does not apply are ignored); present[m]: (N,) bool. Keys:
    `cosine/<S>`, `n/<S>`, and `cosine/size<k>`: the mean over (sample, subset) pairs of size k.
    """
    full = as_matrix(full, "full")
    out: dict[str, float | int] = {}
    by_size: dict[int, list[np.ndarray]] = {}
    for subset, embedding in by_subset.items():
        rows = subset_applies(present, subset)
        cosine = row_cosine(as_matrix(embedding, subset_name(subset))[rows], full[rows])
        out[f"cosine/{subset_name(subset)}"] = float(cosine.mean()) if cosine.size else float("nan")
        out[f"n/{subset_name(subset)}"] = int(rows.sum())
        by_size.setdefault(len(subset), []).append(cosine)
    for size, parts in sorted(by_size.items()):
        pooled = np.concatenate(parts)
        out[f"cosine/size{size}"] = float(pooled.mean()) if pooled.size else float("nan")
    return out
