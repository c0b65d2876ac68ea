"""Learning health: effective rank and spread against slow references; a collapsed space is flagged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mca_platform.evaluate.run import probe_far_below_raw
from mca_platform.metrics.health import effective_rank, health, spread


def test_effective_rank_and_spread_against_obvious_cases():
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(4000, 8))
    assert effective_rank(cloud) == pytest.approx(8.0, rel=0.05), "an isotropic cloud uses every dimension"
    line = np.outer(rng.normal(size=500), rng.normal(size=8))
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-6)
    assert spread(cloud) == pytest.approx(1.0, abs=0.02)
    assert spread(np.ones((50, 8)) * 3.0) == pytest.approx(0.0, abs=1e-6)
    x = rng.normal(size=(30, 4)) + 5.0  # a slow reference for the spread: distances to the mean direction
    units = [v / math.sqrt(sum(c * c for c in v)) for v in x]
    mean = [sum(u[i] for u in units) / len(units) for i in range(4)]
    slow = math.sqrt(sum(sum((u[i] - mean[i]) ** 2 for i in range(4)) for u in units) / len(units))
    assert spread(x) == pytest.approx(slow, rel=1e-9)


def test_a_collapsed_embedding_is_flagged():
    rng = np.random.default_rng(1)
    healthy = rng.normal(size=(200, 16))
    collapsed = np.tile(rng.normal(size=16), (200, 1)) + rng.normal(scale=1e-3, size=(200, 16))
    present = np.ones(200, dtype=bool)
    found = health({"gene": collapsed, "fusion": healthy}, {"gene": present, "fusion": present})
    assert found["collapsed"] == 1 and found["gene/spread"] < 0.01 and found["fusion/spread"] > 0.9


def test_scores_carry_health_and_flag_the_collapsed_space():
    from mca_platform.evaluate.scores import TEST, TRAIN, score_embeddings

    rng = np.random.default_rng(2)
    n, names = 120, ["a", "b"]
    labels = rng.integers(0, 3, size=n)
    split = np.where(np.arange(n) < 80, TRAIN, TEST)
    arrays = {"split": split, "labels": labels, "emb/fusion": rng.normal(size=(n, 8)),
              "present/fusion": np.ones(n, dtype=bool)}
    arrays["emb/a"] = rng.normal(size=(n, 8))
    arrays["emb/b"] = np.tile(rng.normal(size=8), (n, 1))  # every sample the same point
    for name in names:
        arrays[f"present/{name}"] = np.ones(n, dtype=bool)
    row = score_embeddings(arrays, names, "classification", 3, fixed_gallery_size=50)
    assert row["flags.collapsed_embedding"] == 1
    assert row["health.b.spread"] == pytest.approx(0.0, abs=1e-6) and row["health.a.spread"] > 0.8


def test_probe_far_below_the_raw_features_is_flagged():
    assert probe_far_below_raw({"probe.accuracy": 0.26, "probe_raw.accuracy": 0.91})
    assert not probe_far_below_raw({"probe.accuracy": 0.8, "probe_raw.accuracy": 0.91})
    assert probe_far_below_raw({"probe.pearson_r": 0.1, "probe_raw.pearson_r": 0.5})
    assert not probe_far_below_raw({"probe.accuracy": float("nan"), "probe_raw.accuracy": 0.9})
