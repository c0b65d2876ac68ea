"""Which test samples count: presence arrays keyed by modality name (evaluation.md, "Samples with no modality").

`present[m]` is a (N,) boolean array, True where modality m is present in sample n. A sample with no modality
present has no meaningful fusion embedding (the authors' code kept it as a constant vector); every metric
excludes it and reports how many were excluded.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def any_present(present: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N,) bool: True where at least one modality is present."""
    if not present:
        raise ValueError("present: no modalities given")
    columns = [np.asarray(value, dtype=bool) for value in present.values()]
    lengths = {column.shape for column in columns}
    if len(lengths) != 1 or len(columns[0].shape) != 1:
        raise ValueError(f"present: expected (N,) arrays of one length, got shapes {sorted(lengths)}")
    return np.logical_or.reduce(columns)


def as_matrix(x, name: str = "x") -> np.ndarray:
    """A (N, D) float64 numpy array from a numpy array or torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a (N, D) array, got shape {x.shape}")
    return x
