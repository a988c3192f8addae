"""Cosine nearest-class-mean classification: one unit-length mean direction per class, scores by cosine
similarity. Used by the ``chronos-ncm`` baseline and by the few-shot head of open-vocabulary recognition."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_class_means", "class_mean_scores", "predict_class_means"]


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 1e-12, norm, 1.0)


def fit_class_means(features: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """One unit-length mean direction per class, for cosine nearest-class-mean classification.

    Every feature row is L2-normalised, rows are averaged per class, and each mean is L2-normalised again.
    Standardise the features beforehand if their columns have very different scales (the ``chronos-ncm``
    baseline does, with training statistics).

    Args:
        features: ``(N, D)`` finite feature matrix.
        labels: ``(N,)`` integer class ids in ``[0, num_classes)``.
        num_classes: ``K``; default ``max(labels) + 1``.

    Returns:
        ``(K, D)`` float32 means; a class without any row gets a row of NaN (it is never predicted).

    Raises:
        ValueError: shape mismatch, non-finite features, negative or out-of-range labels, no rows.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"expected features (N, D) and labels (N,), got {x.shape} and {y.shape}")
    if len(y) == 0:
        raise ValueError("fit_class_means needs at least one labelled row")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class ids, got dtype {y.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"features row {int(np.argwhere(~np.isfinite(x))[0, 0])} has a non-finite value")
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got min {int(y.min())} and max {int(y.max())}")
    xn = _l2_normalise(x)
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, y, xn)
    counts = np.bincount(y, minlength=k)
    means = np.full((k, x.shape[1]), np.nan)
    seen = counts > 0
    means[seen] = _l2_normalise(sums[seen] / counts[seen, None])
    return means.astype(np.float32)


def class_mean_scores(features: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Cosine similarity ``(N, K)`` of every row to every class mean (classes without a mean: ``-inf``)."""
    x = np.asarray(features, dtype=np.float64)
    m = np.asarray(means, dtype=np.float64)
    if x.ndim != 2 or m.ndim != 2 or x.shape[1] != m.shape[1]:
        raise ValueError(f"expected features (N, D) and means (K, D) with the same D, "
                         f"got {x.shape} and {m.shape}")
    present = np.isfinite(m).all(axis=1)
    if not present.any():
        raise ValueError("no class has a mean (every row of `means` is NaN)")
    scores = np.full((len(x), len(m)), -np.inf)
    scores[:, present] = _l2_normalise(x) @ m[present].T
    return scores


def predict_class_means(features: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Class id ``(N,)`` int64 of the nearest mean by cosine similarity (ties: the lowest id)."""
    return np.argmax(class_mean_scores(features, means), axis=1).astype(np.int64)
