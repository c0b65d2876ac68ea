"""Linear probes: metrics against scikit-learn and scipy, and fits on data with known answers."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge
from sklearn.metrics import average_precision_score

from mca_platform.metrics.probes import (
    classification_probe,
    macro_aupr,
    micro_ap,
    pearson_r,
    regression_probe,
    ridge_fit,
    standardise,
)


def test_aupr_matches_scikit_learn():
    rng = np.random.default_rng(0)
    n_classes, n = 6, 200
    labels = rng.choice([0, 1, 3, 4], size=n)  # classes 2 and 5 absent from the test labels
    scores = rng.random((n, n_classes))
    onehot = np.eye(n_classes, dtype=bool)[labels]
    present = [0, 1, 3, 4]
    expected = average_precision_score(onehot[:, present], scores[:, present], average="macro")
    assert macro_aupr(labels, scores) == pytest.approx(expected)
    assert micro_ap(labels, scores) == pytest.approx(average_precision_score(onehot, scores, average="micro"))


def blobs(rng, n: int, n_classes: int, d: int, spread: float):
    centres = rng.normal(size=(n_classes, d)) * 5
    labels = rng.integers(0, n_classes, n)
    return centres[labels] + spread * rng.normal(size=(n, d)), labels


def test_classification_probe_separable_and_fast():
    rng = np.random.default_rng(1)
    x, y = blobs(rng, 3000, 32, 64, spread=0.5)
    start = time.perf_counter()
    out = classification_probe(x[:2000], y[:2000], x[2000:], y[2000:], n_classes=33)
    assert time.perf_counter() - start < 10
    assert out["accuracy"] > 0.99 and out["macro_aupr"] > 0.99 and out["micro_ap"] > 0.99
    assert out["n_train"] == 2000 and out["n_test"] == 1000 and out["n_classes_test"] == 32


def test_classification_probe_chance_and_class_missing_from_train():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 8))
    y = rng.integers(0, 4, 2000)
    test_y = y[1000:].copy()
    test_y[:5] = 4  # a class never seen in training: scored with probability 0
    out = classification_probe(x[:1000], y[:1000], x[1000:], test_y)
    assert out["accuracy"] == pytest.approx(0.25, abs=0.06)
    assert out["n_classes_test"] == 5
    with pytest.raises(ValueError, match="labels"):
        classification_probe(x[:10], y[:10], x[10:20], y[10:20], n_classes=2)


def test_standardise_uses_train_statistics():
    train, test = np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 6.0]])
    train_z, test_z = standardise(train, test)
    np.testing.assert_allclose(train_z, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(test_z, [[3.0, 1.0]])  # constant train feature: std taken as 1


def test_ridge_matches_scikit_learn():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(100, 7)), rng.normal(size=100)
    weights, intercept = ridge_fit(x, y, 2.5)
    reference = Ridge(alpha=2.5).fit(x, y)
    np.testing.assert_allclose(weights, reference.coef_, rtol=1e-8, atol=1e-10)
    assert intercept == pytest.approx(reference.intercept_)


def test_regression_probe_linear_target():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 20)) * rng.uniform(0.1, 10, 20) + 3
    y = x @ rng.normal(size=20) + 0.01 * rng.normal(size=3000)
    out = regression_probe(x[:2000], y[:2000], x[2000:], y[2000:], ridge=1e-3)
    assert out["pearson_r"] > 0.9999 and out["mae"] < 0.02
    noise = regression_probe(x[:2000], rng.normal(size=2000), x[2000:], rng.normal(size=1000))
    assert abs(noise["pearson_r"]) < 0.15


def test_pearson_matches_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert pearson_r(a, b) == pytest.approx(pearsonr(a, b).statistic)
    assert np.isnan(pearson_r(np.ones(5), b[:5]))
