"""One checkpoint's scores: the flags for a non-finite embedding (skipped), a short fixed gallery, modalities
left out of the modality means and a collapsed space, on small synthetic embedding caches."""

from __future__ import annotations

import numpy as np
import pytest

from mca_platform.evaluate.scores import score_embeddings

NAMES = ["a", "b"]


def arrays(seed: int = 0, n: int = 60, d: int = 6) -> dict[str, np.ndarray]:
    """An embedding cache as embed.py writes it: split codes, presence, unimodal, fusion and subset rows."""
    rng = np.random.default_rng(seed)
    split = np.array([0, 1, 2] * (n // 3), dtype=np.int8)
    present = {"a": rng.random(n) < 0.8, "b": rng.random(n) < 0.8}
    out = {"split": split, "labels": rng.integers(0, 3, n), "emb/fusion": rng.normal(size=(n, d))}
    for name in NAMES:
        out[f"present/{name}"] = present[name]
        out[f"emb/{name}"] = out["emb/fusion"] + rng.normal(0, 0.5, size=(n, d))
        out[f"sub/{name}"] = out["emb/fusion"] + rng.normal(0, 0.3, size=(n, d))
    return out


def score(cache, fixed=10):
    return score_embeddings(cache, NAMES, "classification", 3, fixed)


def test_a_healthy_setting_has_metrics_and_no_flags():
    row = score(arrays())
    assert np.isfinite(row["uniformity.fusion"]) and np.isfinite(row["retrieval.mean.r1"])
    assert 0 <= row["retrieval.a.tie_rate"] < 0.5
    assert {k: v for k, v in row.items() if k.startswith("flags.")} == {
        "flags.non_finite_embeddings": 0, "flags.fixed_gallery_short": 0, "flags.collapsed_space": 0,
        "flags.modalities_left_out": 0, "flags.collapsed_embedding": 0}


@pytest.mark.parametrize("key", ["emb/fusion", "emb/a", "sub/b"])
def test_a_non_finite_embedding_flags_and_skips_the_setting_instead_of_raising(key):
    cache = arrays()
    row = int(np.flatnonzero((cache["split"] == 2) & cache["present/a"] & cache["present/b"])[0])
    cache[key][row, 1] = np.nan
    out = score(cache)
    assert out["flags.non_finite_embeddings"] == 1 and "uniformity.fusion" not in out and out["n_test"] == 20


def test_non_finite_values_in_rows_no_metric_reads_are_not_flagged():
    cache = arrays()
    unused = int(np.flatnonzero(cache["split"] == 1)[0])  # a validation row: never read by the test metrics
    cache["emb/fusion"][unused] = np.inf
    absent = int(np.flatnonzero(~cache["present/a"] & (cache["split"] == 2))[0])
    cache["emb/a"][absent] = np.nan  # an absent modality's row
    assert score(cache)["flags.non_finite_embeddings"] == 0


def test_a_gallery_smaller_than_the_fixed_size_is_flagged():
    cache = arrays()
    row = score(cache, fixed=10_000)
    gallery = int(row["retrieval.gallery_size"])
    assert row["flags.fixed_gallery_short"] == 1 and row["retrieval_fixed.gallery_size"] == gallery < 10_000
    assert score(cache, fixed=gallery)["flags.fixed_gallery_short"] == 0


def test_a_modality_left_out_of_the_means_is_flagged():
    cache = arrays()
    cache["present/b"][cache["split"] == 2] = False  # no test sample has modality b
    row = score(cache)
    assert row["flags.modalities_left_out"] == 1
    assert row["uniformity.unimodal_mean"] == pytest.approx(row["uniformity.a"])


def test_a_collapsed_space_is_flagged():
    cache = arrays()
    cache["emb/fusion"][:] = 1.0
    row = score(cache)
    assert row["flags.collapsed_space"] == 1 and row["retrieval.mean.r1"] == 1.0 and row["retrieval.a.tie_rate"] == 1.0
