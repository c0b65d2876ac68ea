"""Retrieval ranks against a per-query sorting reference, known cases, and the fixed-size gallery."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_platform.metrics.retrieval import (
    fixed_gallery_summary,
    ranks_and_ties,
    recall_summary,
    retrieval_metrics,
    retrieval_ranks,
    sample_fixed_gallery_ranks,
)


def ranks_by_sorting(queries: np.ndarray, gallery: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Per query: cosine similarities, sorted descending; rank = first position holding the true match's score."""
    ranks = []
    for query, true in zip(queries, match, strict=True):
        scores = np.array([g @ query / (np.linalg.norm(g) * np.linalg.norm(query)) for g in gallery])
        ordered = np.sort(scores)[::-1]
        ranks.append(int(np.flatnonzero(ordered == scores[true])[0]))
    return np.array(ranks)


@settings(max_examples=20, deadline=None)
@given(q=st.integers(1, 15), g=st.integers(1, 40), d=st.integers(1, 8), seed=st.integers(0, 2**31))
def test_ranks_match_sorting_reference(q, g, d, seed):
    rng = np.random.default_rng(seed)
    queries, gallery, match = rng.normal(size=(q, d)), rng.normal(size=(g, d)), rng.integers(0, g, q)
    fast = retrieval_ranks(queries, gallery, match, chunk_size=4, dtype=torch.float64)
    np.testing.assert_array_equal(fast, ranks_by_sorting(queries, gallery, match))


def test_ties_count_in_the_querys_favour():
    gallery = np.eye(4)[[0, 1, 1, 2, 3, 1]]  # exact one-hot scores: 0 or 1
    queries = np.eye(4)[[1, 1, 0]]
    match = np.array([1, 2, 3])  # query 2 (axis 0) matched to an axis-2 item: one item (row 0) beats it
    np.testing.assert_array_equal(retrieval_ranks(queries, gallery, match), [0, 0, 1])
    np.testing.assert_array_equal(ranks_by_sorting(queries, gallery, match), [0, 0, 1])


def test_identical_embeddings_are_retrieved_first():
    x = np.random.default_rng(0).normal(size=(300, 32)).astype(np.float32)
    ranks = retrieval_ranks(2.0 * x, x, np.arange(300), chunk_size=64)
    summary = recall_summary(ranks)
    assert summary["r@1"] == 1.0 and summary["median_rank_1based"] == 1.0 and summary["n_queries"] == 300


def test_random_embeddings_give_chance_recall():
    rng = np.random.default_rng(1)
    gallery_size, n_queries = 500, 4000
    ranks = retrieval_ranks(rng.normal(size=(n_queries, 64)), rng.normal(size=(gallery_size, 64)),
                            rng.integers(0, gallery_size, n_queries))
    summary = recall_summary(ranks)
    for k in (1, 5, 10):
        expected = k / gallery_size
        assert summary[f"r@{k}"] == pytest.approx(expected, abs=4 * np.sqrt(expected / n_queries))
    assert summary["median_rank_1based"] == pytest.approx(gallery_size / 2, rel=0.1)


def test_chunk_size_does_not_change_ranks():
    rng = np.random.default_rng(2)
    queries, gallery, match = rng.normal(size=(37, 8)), rng.normal(size=(50, 8)), rng.integers(0, 50, 37)
    np.testing.assert_array_equal(retrieval_ranks(queries, gallery, match, chunk_size=5),
                                  retrieval_ranks(queries, gallery, match, chunk_size=1000))


def test_bad_inputs_raise():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="true match"):
        retrieval_ranks(x, x, [0, 1, 3])
    with pytest.raises(ValueError, match="non-finite"):
        retrieval_ranks(np.full((1, 2), np.nan), x, [0])
    with pytest.raises(ValueError, match="fixed gallery size"):
        fixed_gallery_summary(np.zeros(2, dtype=int), gallery_size=3, fixed_size=4)


def test_median_rank_is_one_based():
    assert recall_summary(np.array([0, 2, 4]))["median_rank_1based"] == 3.0
    assert recall_summary(np.array([0, 1]))["median_rank_1based"] == 1.5


def test_fixed_gallery_of_full_size_equals_full_gallery():
    ranks = np.random.default_rng(3).integers(0, 100, 201)
    full, fixed = recall_summary(ranks), fixed_gallery_summary(ranks, gallery_size=100, fixed_size=100)
    for k in (1, 5, 10):
        assert fixed[f"r@{k}"] == pytest.approx(full[f"r@{k}"])
    assert fixed["median_rank_1based"] == np.sort(ranks)[100] + 1  # odd count: the median itself


def subset_ranks_reference(scores: np.ndarray, true: int, fixed_size: int, rng) -> int:
    """Explicit draw: fixed_size - 1 distinct distractors from the other items; count those scoring higher."""
    others = np.delete(np.arange(scores.size), true)
    chosen = rng.choice(others, size=fixed_size - 1, replace=False)
    return int((scores[chosen] > scores[true]).sum())


def test_fixed_gallery_matches_explicit_distractor_sampling():
    rng = np.random.default_rng(4)
    gallery_size, fixed_size, n_queries = 200, 40, 3000
    queries, gallery = rng.normal(size=(n_queries, 4)), rng.normal(size=(gallery_size, 4))
    gallery[:50] += 3 * queries[:50].mean(0)  # a lopsided gallery: ranks far from uniform
    match = rng.integers(0, gallery_size, n_queries)
    ranks = retrieval_ranks(queries, gallery, match)
    normed = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)
    scores = normed(queries) @ normed(gallery).T
    explicit = np.array([subset_ranks_reference(scores[i], match[i], fixed_size, rng) for i in range(n_queries)])
    expected = fixed_gallery_summary(ranks, gallery_size, fixed_size)
    sampled = recall_summary(sample_fixed_gallery_ranks(ranks, gallery_size, fixed_size, seed=0))
    for k in (1, 5, 10):
        tolerance = 4 * np.sqrt(0.25 / n_queries)
        assert np.mean(explicit < k) == pytest.approx(expected[f"r@{k}"], abs=tolerance)
        assert sampled[f"r@{k}"] == pytest.approx(expected[f"r@{k}"], abs=tolerance)
    assert abs(np.median(explicit + 1) - expected["median_rank_1based"]) <= 1.0


def test_fixed_gallery_random_embeddings_give_k_over_size_at_any_gallery_size():
    rng = np.random.default_rng(5)
    for gallery_size in (300, 1200):  # "low" and "high" sparsity galleries
        ranks = rng.integers(0, gallery_size, 20000)  # random embeddings: rank uniform on 0..G-1
        fixed = fixed_gallery_summary(ranks, gallery_size, fixed_size=100)
        assert fixed["r@10"] == pytest.approx(10 / 100, abs=0.01)
        assert fixed["median_rank_1based"] == pytest.approx(50, abs=2)


def test_sampled_fixed_ranks_are_seeded_and_bounded():
    ranks = np.random.default_rng(6).integers(0, 500, 1000)
    first, again = (sample_fixed_gallery_ranks(ranks, 500, 50, seed=9) for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert np.all(first <= np.minimum(ranks, 49))


def test_retrieval_metrics_gallery_exclusion_and_averages():
    rng = np.random.default_rng(7)
    n_test, n_train, d = 40, 60, 16
    fusion, train_fusion = rng.normal(size=(n_test, d)), rng.normal(size=(n_train, d))
    present = {"a": rng.random(n_test) < 0.7, "b": rng.random(n_test) < 0.7}
    present["a"][:4] = present["b"][:4] = False
    fusion_present = present["a"] | present["b"]
    train_present = rng.random(n_train) < 0.8
    queries = {"a": fusion.copy(), "b": rng.normal(size=(n_test, d))}  # a: perfect, b: random
    out = retrieval_metrics(queries, present, fusion, fusion_present, train_fusion, train_present, fixed_size=20)
    assert out["gallery_size"] == fusion_present.sum() + train_present.sum()
    assert out["n_excluded_no_modality/test"] == (~fusion_present).sum()
    assert out["n_excluded_no_modality/train"] == (~train_present).sum()
    assert out["r@1/a"] == 1.0 and out["median_rank_1based/a"] == 1.0 and out["fixed_r@1/a"] == 1.0
    assert out["n_queries/b"] == present["b"].sum()
    gallery = np.concatenate([train_fusion[train_present], fusion[fusion_present]])
    rows = np.flatnonzero(present["b"])
    match = train_present.sum() + np.cumsum(fusion_present)[rows] - 1
    np.testing.assert_allclose(gallery[match], fusion[rows])
    expected = recall_summary(ranks_by_sorting(queries["b"][rows], gallery, match))
    assert out["median_rank_1based/b"] == expected["median_rank_1based"]
    assert out["r@5/b"] == pytest.approx(expected["r@5"])
    assert out["r@5/mean"] == pytest.approx((out["r@5/a"] + out["r@5/b"]) / 2)
    broken = {"a": present["a"] | ~fusion_present}
    with pytest.raises(ValueError, match="no fusion embedding"):
        retrieval_metrics({"a": fusion}, broken, fusion, fusion_present, train_fusion, train_present)


def test_pooled_cdf_matches_scipy_hypergeometric():
    from scipy.stats import hypergeom

    from mca_platform.metrics.retrieval import pooled_fixed_rank_cdf

    ranks = np.random.default_rng(8).integers(0, 300, 60)
    expected = np.mean([hypergeom.cdf(np.arange(40), 299, r, 39) for r in ranks], axis=0)
    np.testing.assert_allclose(pooled_fixed_rank_cdf(ranks, 300, 40, chunk_size=7), expected, atol=1e-12)


def test_ties_are_counted_and_a_collapsed_space_is_flagged():
    rng = np.random.default_rng(9)
    gallery = rng.normal(size=(30, 8))
    gallery[5] = gallery[3]  # one exact duplicate of query 0's true match
    ranks, ties = ranks_and_ties(gallery[[3, 7]], gallery, [3, 7])
    assert ranks.tolist() == [0, 0] and ties.tolist() == [1, 0]  # the paper's rule: the tie is in the query's favour
    fusion = np.ones((20, 4))  # a fully collapsed space: every fusion embedding the same
    present = {"a": np.ones(20, dtype=bool)}
    out = retrieval_metrics({"a": rng.normal(size=(20, 4))}, present, fusion, present["a"], fusion[:10],
                            np.ones(10, dtype=bool))
    assert out["r@1/a"] == 1.0  # kept, as the paper counts it ...
    assert out["tie_rate/a"] == 1.0 and out["collapsed/a"] == 1.0 and out["collapsed/mean"] == 1.0  # ... flagged
    spread = retrieval_metrics({"a": fusion + rng.normal(size=(20, 4))}, present, rng.normal(size=(20, 4)),
                               present["a"], rng.normal(size=(10, 4)), np.ones(10, dtype=bool))
    assert spread["tie_rate/a"] == 0.0 and spread["collapsed/a"] == 0.0 and spread["left_out/r@1"] == 0


def test_a_query_set_without_queries_is_left_out_of_the_mean_and_counted():
    rng = np.random.default_rng(10)
    fusion = rng.normal(size=(12, 4))
    present = {"a": np.ones(12, dtype=bool), "b": np.zeros(12, dtype=bool)}
    out = retrieval_metrics({"a": fusion, "b": fusion}, present, fusion, present["a"], fusion[:0],
                            np.zeros(0, dtype=bool), fixed_size=5)
    assert out["r@1/mean"] == out["r@1/a"] == 1.0 and np.isnan(out["r@1/b"])
    assert out["left_out/r@1"] == 1 and out["fixed_left_out/r@1"] == 1
