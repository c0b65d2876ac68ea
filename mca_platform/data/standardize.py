"""Per-feature standardisation of table modalities, fitted on the training split only, applied in place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mca_platform.data.spec import ModalitySpec

ROWS_PER_BLOCK = 4096


def standardize_tables(
    modalities_dir: Path, specs: Sequence[ModalitySpec], train_rows: np.ndarray, source_present: np.ndarray
) -> dict:
    """z-score each table column with the mean and std of present, non-NaN training cells; NaN stays NaN.

    Works block by block on the memory-mapped file, so memory stays bounded. Returns the statistics.
    """
    stats = {}
    for j, spec in enumerate(specs):
        if spec.kind != "table":
            continue
        path = modalities_dir / spec.name / "values.f32"
        values = np.memmap(path, dtype="<f4", mode="r+", shape=(len(train_rows), spec.width))
        fit_rows = train_rows & source_present[:, j]
        total = np.zeros(spec.width)
        squares = np.zeros(spec.width)
        count = np.zeros(spec.width)
        for start in range(0, len(train_rows), ROWS_PER_BLOCK):
            block = values[start : start + ROWS_PER_BLOCK][fit_rows[start : start + ROWS_PER_BLOCK]]
            block = block.astype(np.float64)
            seen = ~np.isnan(block)
            total += np.where(seen, block, 0.0).sum(axis=0)
            squares += np.where(seen, block * block, 0.0).sum(axis=0)
            count += seen.sum(axis=0)
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        variance = np.divide(squares, count, out=np.zeros_like(total), where=count > 0) - mean**2
        std = np.sqrt(np.maximum(variance, 0.0))
        std = np.where(std > 1e-12, std, 1.0)
        for start in range(0, len(train_rows), ROWS_PER_BLOCK):
            block = values[start : start + ROWS_PER_BLOCK]
            block[:] = ((block - mean) / std).astype(np.float32)
        values.flush()
        del values
        stats[spec.name] = {"mean": mean.tolist(), "std": std.tolist(), "fitted_on": "train"}
    return stats
