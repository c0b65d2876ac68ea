"""Seeded train / validation / test splits: by sample, by group (e.g. video id), or the source's folds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mca_platform.config import SplitConfig
from mca_platform.errors import UserError

SPLIT_NAMES = ("train", "validation", "test")
SPLIT_STREAM = 0x5B1D
MIN_SAMPLES = 4  # two to train on (a contrastive pair), one to validate, one to test
MIN_TRAIN = 2  # a contrastive batch needs at least two samples


def assign_splits(
    config: SplitConfig,
    n_samples: int,
    groups: Sequence[str] | None = None,
    folds: Sequence[str | None] | None = None,
) -> np.ndarray:
    """(N,) int8 split codes: 0 train, 1 validation, 2 test (indices into SPLIT_NAMES)."""
    match config.mode:
        case "random":
            return _split_units(np.arange(n_samples), n_samples, config)
        case "by_group":
            if groups is None:
                raise UserError("data.split.mode: by_group needs a source with groups (this one has none)")
            unique, unit_of_sample = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
            return _split_units(unit_of_sample, len(unique), config)
        case "standard_folds":
            if folds is None:
                raise UserError("data.split.mode: standard_folds needs a source with folds (this one has none)")
            return _from_folds(folds)
        case other:
            raise ValueError(f"unknown split mode {other!r}")


def check_split_counts(split: np.ndarray, config: SplitConfig, name: str) -> None:
    """Refuse a dataset too small to train on, or a split that leaves (almost) nothing to train on."""
    n_samples = len(split)
    if n_samples < MIN_SAMPLES:
        raise UserError(f"data ({name}): {n_samples} samples; at least {MIN_SAMPLES} are needed")
    counts = np.bincount(split, minlength=3)
    if counts[0] < MIN_TRAIN:
        raise UserError(f"data.split ({name}): the {config.mode} split leaves {counts[0]} training samples; at least "
                        f"{MIN_TRAIN} are needed (lower split.validation / split.test, or use more groups)")


def _split_units(unit_of_sample: np.ndarray, n_units: int, config: SplitConfig) -> np.ndarray:
    """Shuffle units (samples or groups) and fill test, then validation, to their sample-count targets."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([config.seed, SPLIT_STREAM])))
    order = rng.permutation(n_units)
    unit_sizes = np.bincount(unit_of_sample, minlength=n_units)
    n_samples = len(unit_of_sample)
    targets = [round(config.test * n_samples), round(config.validation * n_samples)]
    unit_split = np.zeros(n_units, dtype=np.int8)
    filled = np.cumsum(unit_sizes[order])
    test_end = int(np.searchsorted(filled, targets[0], side="left")) + 1 if targets[0] else 0
    val_target = targets[0] + targets[1]
    val_end = int(np.searchsorted(filled, val_target, side="left")) + 1 if targets[1] else test_end
    unit_split[order[:test_end]] = 2
    unit_split[order[test_end:max(val_end, test_end)]] = 1
    return unit_split[unit_of_sample]


def _from_folds(folds: Sequence[str | None]) -> np.ndarray:
    codes = {name: code for code, name in enumerate(SPLIT_NAMES)}
    unknown = sorted({f for f in folds if f not in codes}, key=str)
    if unknown:
        raise UserError(f"data.split.mode: standard_folds: samples in no fold or an unknown one: {unknown[:5]}")
    return np.asarray([codes[f] for f in folds], dtype=np.int8)
