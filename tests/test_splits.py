"""Seeded splits by sample, by group, and from the source's folds."""

from __future__ import annotations

import numpy as np
import pytest

from mca_platform.config import SplitConfig
from mca_platform.data.splits import assign_splits
from mca_platform.errors import UserError


def test_random_split_sizes_and_seed():
    config = SplitConfig(mode="random", validation=0.1, test=0.15, seed=1)
    split = assign_splits(config, 1000)
    assert np.bincount(split).tolist() == [750, 100, 150]
    assert np.array_equal(split, assign_splits(config, 1000))
    assert not np.array_equal(split, assign_splits(SplitConfig(seed=2), 1000))


def test_group_split_keeps_each_group_in_one_split():
    rng = np.random.default_rng(0)
    groups = [f"video{g}" for g in rng.integers(0, 150, size=2000)]
    split = assign_splits(SplitConfig(mode="by_group", validation=0.1, test=0.2, seed=0), 2000, groups=groups)
    for group in set(groups):
        members = split[[i for i, g in enumerate(groups) if g == group]]
        assert len(set(members.tolist())) == 1, group
    fractions = np.bincount(split, minlength=3) / 2000
    assert abs(fractions[2] - 0.2) < 0.03 and abs(fractions[1] - 0.1) < 0.03


def test_standard_folds_and_errors():
    folds = ["train", "test", "validation", "train"]
    split = assign_splits(SplitConfig(mode="standard_folds"), 4, folds=folds)
    assert split.tolist() == [0, 2, 1, 0]
    with pytest.raises(UserError, match="no fold or an unknown one"):
        assign_splits(SplitConfig(mode="standard_folds"), 2, folds=["train", None])
    with pytest.raises(UserError, match="needs a source with groups"):
        assign_splits(SplitConfig(mode="by_group"), 2)
