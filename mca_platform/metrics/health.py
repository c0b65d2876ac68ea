"""Learning health of an embedding space: is it spread out, or did it collapse to (nearly) one point or line?

- effective rank (Roy and Vetterli, 2007): exp of the entropy of the normalised singular values of the centred
  embeddings; 1 for points on a line, D for an isotropic cloud in D dimensions.
- spread: the root-mean-square distance of the L2-normalised embeddings from their mean direction,
  sqrt(1 - |mean of u|^2); 0 when every sample maps to the same direction, about 1 when they fill the sphere.
A space is called collapsed when its spread is below COLLAPSED_SPREAD or its effective rank below
COLLAPSED_RANK (a few samples with no variance left).
"""

from __future__ import annotations

import math

import numpy as np

COLLAPSED_SPREAD = 0.1
COLLAPSED_RANK = 1.5


def effective_rank(x: np.ndarray) -> float:
    """exp(entropy) of the singular value distribution of the centred rows of `x` (NaN for fewer than 2 rows)."""
    if len(x) < 2:
        return math.nan
    singular = np.linalg.svd(np.asarray(x, dtype=np.float64) - x.mean(axis=0), compute_uv=False)
    total = singular.sum()
    if total <= 0:
        return 1.0
    p = singular[singular > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def spread(x: np.ndarray) -> float:
    """sqrt(1 - |mean unit vector|^2) of the rows of `x` (NaN for no rows)."""
    if len(x) == 0:
        return math.nan
    x = np.asarray(x, dtype=np.float64)
    units = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return float(math.sqrt(max(0.0, 1.0 - float(np.sum(units.mean(axis=0) ** 2)))))


def health(embeddings: dict[str, np.ndarray], present: dict[str, np.ndarray]) -> dict[str, float]:
    """`<key>/effective_rank`, `<key>/spread` for each space (rows where present) and `collapsed`: how many
    spaces collapsed."""
    out: dict[str, float] = {}
    collapsed = 0
    for key, values in embeddings.items():
        rows = values[present[key]]
        rank, width = effective_rank(rows), spread(rows)
        out[f"{key}/effective_rank"], out[f"{key}/spread"] = rank, width
        collapsed += int(width < COLLAPSED_SPREAD or rank < COLLAPSED_RANK)
    out["collapsed"] = collapsed
    return out
