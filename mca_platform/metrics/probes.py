"""Linear probes on frozen embeddings (paper section 6.1, Fig. 6; evaluation.md "Linear probes").

Fit on the train split's embeddings, score on the test split's; features are standardised with the train mean
and standard deviation. Callers pass only samples with at least one modality (see `presence.any_present`).
- Classification: multinomial logistic regression (scikit-learn, lbfgs, L2 penalty C) on the full training
  set. Reported: `macro_aupr` (average precision per class, averaged over the classes present in the test
  labels, on the predicted class probabilities), `accuracy`, and `micro_ap` (the authors' metric: one-vs-rest
  over all `n_classes` slots, micro-averaged average precision, here on the softmax probabilities).
- Regression: ridge regression in closed form, w = (X'X + lambda I)^-1 X'(y - mean y), intercept mean y, on the
  standardised features (the paper used an L1 loss; ridge is used here for a fast exact fit). Reported:
  `pearson_r` and `mae` on the test split.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from mca_platform.metrics.presence import as_matrix


def standardise(train, test) -> tuple[np.ndarray, np.ndarray]:
    """Both splits scaled by the train mean and std (a constant train feature keeps std 1)."""
    train, test = as_matrix(train, "train"), as_matrix(test, "test")
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def macro_aupr(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision per class over the classes present in `labels` (N,), averaged; scores (N, C)."""
    classes = np.unique(labels)
    return float(np.mean([average_precision_score(labels == c, scores[:, c]) for c in classes]))


def micro_ap(labels: np.ndarray, scores: np.ndarray) -> float:
    """Micro-averaged one-vs-rest average precision over all C slots: one ranking of the N * C (label, score)."""
    onehot = np.zeros_like(scores, dtype=bool)
    onehot[np.arange(labels.shape[0]), labels] = True
    return float(average_precision_score(onehot.ravel(), scores.ravel()))


def classification_probe(
    train_x, train_y, test_x, test_y, n_classes: int | None = None, c: float = 1.0, max_iter: int = 1000
) -> dict[str, float | int]:
    """Multinomial logistic regression probe: macro AUPR, accuracy, micro AP (labels are ints in [0, n_classes))."""
    train_y, test_y = np.asarray(train_y, dtype=np.int64), np.asarray(test_y, dtype=np.int64)
    n_classes = int(max(train_y.max(), test_y.max()) + 1) if n_classes is None else n_classes
    if min(train_y.min(), test_y.min()) < 0 or max(train_y.max(), test_y.max()) >= n_classes:
        raise ValueError(f"labels must be in [0, {n_classes})")
    train_x, test_x = standardise(train_x, test_x)
    scores = np.zeros((test_x.shape[0], n_classes))  # classes absent from train keep probability 0
    if np.unique(train_y).size == 1:
        scores[:, train_y[0]] = 1.0
    else:
        model = LogisticRegression(C=c, max_iter=max_iter).fit(train_x, train_y)
        scores[:, model.classes_] = model.predict_proba(test_x)
    return {
        "macro_aupr": macro_aupr(test_y, scores),
        "accuracy": float(np.mean(scores.argmax(axis=1) == test_y)),
        "micro_ap": micro_ap(test_y, scores),
        "n_train": int(train_y.size),
        "n_test": int(test_y.size),
        "n_classes_test": int(np.unique(test_y).size),
    }


def ridge_fit(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Closed-form ridge on centred targets (the intercept is not penalised): (weights (D,), intercept)."""
    x_mean, y_mean = x.mean(axis=0), float(y.mean())
    xc = x - x_mean
    weights = solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ (y - y_mean), assume_a="pos")
    return weights, y_mean - float(x_mean @ weights)


def pearson_r(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant."""
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else math.nan


def regression_probe(train_x, train_y, test_x, test_y, ridge: float = 1.0) -> dict[str, float | int]:
    """Ridge regression probe (closed form, penalty `ridge` on standardised features): Pearson r and MAE."""
    train_y, test_y = np.asarray(train_y, dtype=np.float64), np.asarray(test_y, dtype=np.float64)
    train_x, test_x = standardise(train_x, test_x)
    weights, intercept = ridge_fit(train_x, train_y, ridge)
    predicted = test_x @ weights + intercept
    return {
        "pearson_r": pearson_r(predicted, test_y),
        "mae": float(np.mean(np.abs(predicted - test_y))),
        "n_train": int(train_y.size),
        "n_test": int(test_y.size),
    }
