"""Uniformity and alignment against explicit loops and on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_platform.metrics.geometry import alignment, geometry_metrics, uniformity


def uniformity_loop(x: np.ndarray, t: float = 2.0, normalised: bool = True) -> float:
    if normalised:
        x = [row / np.linalg.norm(row) for row in x]
    terms = []
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            terms.append(math.exp(-t * sum((a - b) ** 2 for a, b in zip(x[i], x[j], strict=True))))
    return math.log(sum(terms) / len(terms))


def alignment_loop(x: np.ndarray, y: np.ndarray, alpha: float = 2.0, normalised: bool = True) -> float:
    total = 0.0
    for a, b in zip(x, y, strict=True):
        if normalised:
            a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        total += math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b, strict=True))) ** alpha
    return total / len(x)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), d=st.integers(1, 6), seed=st.integers(0, 2**31), normalised=st.booleans())
def test_uniformity_matches_loop(n, d, seed, normalised):
    x = np.random.default_rng(seed).normal(size=(n, d)) * (1.0 if normalised else 0.5)
    assert uniformity(x, normalised=normalised, chunk_size=3) == pytest.approx(uniformity_loop(x, 2.0, normalised))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), d=st.integers(1, 6), seed=st.integers(0, 2**31), normalised=st.booleans())
def test_alignment_matches_loop(n, d, seed, normalised):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    assert alignment(x, y, normalised=normalised) == pytest.approx(alignment_loop(x, y, 2.0, normalised))
    assert alignment(x, y, alpha=1.0) == pytest.approx(alignment_loop(x, y, 1.0))


def test_known_answers():
    same = np.tile([[3.0, 4.0]], (5, 1))
    assert uniformity(same) == pytest.approx(0.0)  # every distance is 0
    assert uniformity(np.array([[1.0, 0.0], [-2.0, 0.0]])) == pytest.approx(-8.0)  # antipodal: ||x - y||^2 = 4
    assert alignment(same, same) == pytest.approx(0.0)
    assert alignment(same, -same) == pytest.approx(4.0)
    assert alignment(same, 2 * same) == pytest.approx(0.0)
    assert alignment(same, 2 * same, normalised=False) == pytest.approx(25.0)
    assert math.isnan(uniformity(np.ones((1, 3))))
    assert math.isnan(alignment(np.ones((0, 3)), np.ones((0, 3))))


def test_unnormalised_uniformity_is_exact_when_exp_underflows():
    x = np.array([[0.0], [100.0], [200.0]])  # exp(-2 * 10^4) underflows to 0 in float64
    expected = np.logaddexp.reduce([-2 * 1e4, -2 * 1e4, -2 * 4e4]) - math.log(3)
    assert uniformity(x, normalised=False) == pytest.approx(expected)


def test_chunking_and_torch_input():
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert uniformity(x, chunk_size=7) == pytest.approx(uniformity(x, chunk_size=1000))
    assert uniformity(torch.from_numpy(x).float()) == pytest.approx(uniformity(x), rel=1e-5)


def test_geometry_metrics_uses_present_rows_and_counts_excluded():
    rng = np.random.default_rng(1)
    n, d = 30, 5
    fusion = rng.normal(size=(n, d))
    unimodal = {"a": rng.normal(size=(n, d)), "b": rng.normal(size=(n, d))}
    present = {"a": rng.random(n) < 0.6, "b": rng.random(n) < 0.6}
    present["a"][:3] = present["b"][:3] = False
    unimodal["a"][~present["a"]] = np.nan  # absent rows are never read
    out = geometry_metrics(unimodal, fusion, present)
    keep = present["a"] | present["b"]
    assert out["n_excluded_no_modality"] == int((~keep).sum()) >= 3
    assert out["uniformity/fusion"] == pytest.approx(uniformity(fusion[keep]))
    assert out["uniformity_unnormalised/fusion"] == pytest.approx(uniformity(fusion[keep], normalised=False))
    for name in "ab":
        rows = present[name]
        assert out[f"n/{name}"] == rows.sum()
        assert out[f"uniformity/{name}"] == pytest.approx(uniformity(unimodal[name][rows]))
        assert out[f"alignment/{name}"] == pytest.approx(alignment(unimodal[name][rows], fusion[rows]))
    assert out["alignment/mean"] == pytest.approx((out["alignment/a"] + out["alignment/b"]) / 2)
    assert out["uniformity/unimodal_mean"] == pytest.approx((out["uniformity/a"] + out["uniformity/b"]) / 2)


# Modality-subset analysis (mca_platform/metrics/subsets.py): cosine geometry between fusion embeddings.
def test_subsets_enumeration_and_applicability():
    from mca_platform.metrics.subsets import modality_subsets, subset_applies, subset_name

    subsets = modality_subsets(["a", "b", "c"])
    assert subsets == [("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c")]
    assert modality_subsets(["a", "b", "c"], max_size=1) == [("a",), ("b",), ("c",)]
    assert subset_name(("a", "c")) == "a+c"
    present = {"a": np.array([1, 1, 1, 0], bool), "b": np.array([1, 0, 1, 1], bool), "c": np.array([0, 0, 1, 1], bool)}
    np.testing.assert_array_equal(subset_applies(present, ("a",)), [True, False, True, False])  # needs another
    np.testing.assert_array_equal(subset_applies(present, ("a", "b")), [False, False, True, False])


def test_subset_similarity_against_loop():
    from mca_platform.metrics.subsets import subset_applies, subset_similarity

    rng = np.random.default_rng(3)
    n, d = 25, 6
    present = {name: rng.random(n) < 0.7 for name in "abc"}
    full = rng.normal(size=(n, d))
    by_subset = {("a",): full + 0.1 * rng.normal(size=(n, d)), ("b",): -full, ("a", "b"): 3 * full}
    out = subset_similarity(full, by_subset, present)
    for subset, embedding in by_subset.items():
        rows = np.flatnonzero(subset_applies(present, subset))
        cosines = [embedding[i] @ full[i] / (np.linalg.norm(embedding[i]) * np.linalg.norm(full[i])) for i in rows]
        assert out[f"cosine/{'+'.join(subset)}"] == pytest.approx(np.mean(cosines))
        assert out[f"n/{'+'.join(subset)}"] == len(rows)
    assert out["cosine/b"] == pytest.approx(-1.0) and out["cosine/a+b"] == pytest.approx(1.0)
    size1 = np.concatenate([np.full(out["n/a"], out["cosine/a"]), np.full(out["n/b"], -1.0)])
    assert out["cosine/size1"] == pytest.approx(size1.mean())
