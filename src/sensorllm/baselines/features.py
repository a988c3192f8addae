"""Classical HAR baseline: hand-made per-window features and a scikit-learn random forest.

Per channel (raw units, no normalisation needed by the trees): mean, standard deviation, minimum, maximum,
the 10/25/50/75/90th percentiles, energy (mean square), zero-crossing rate of the mean-removed signal, mean
absolute first difference, and the log power of the mean-removed signal in fixed frequency bands. Across
channels: the Pearson correlation of every channel pair.

The fitted forest is saved without pickle: every tree's node arrays go into a safetensors file and
:func:`load_forest` (``FeatureRandomForest.load``) rebuilds a pure-numpy predictor from it,
:class:`ForestArrays`, the :class:`~sensorllm.classifier.Classifier` that inference uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from sensorllm.classifier import Classifier, scatter_classes

__all__ = [
    "DEFAULT_BANDS_HZ",
    "window_features",
    "feature_names",
    "FeatureRandomForest",
    "ForestArrays",
    "save_forest",
    "load_forest",
]

# Band edges in Hz; the last band runs to Nyquist. Covers posture (< 0.5 Hz), gait (1–3 Hz) and its harmonics.
DEFAULT_BANDS_HZ: tuple[float, ...] = (0.0, 0.5, 1.5, 3.0, 6.0, 12.0)
_PERCENTILES = (10, 25, 50, 75, 90)
_CHUNK = 4096  # windows per feature-extraction chunk (bounds memory on large datasets)


def _band_edges(window: int, rate_hz: float, bands_hz: Sequence[float]) -> list[tuple[int, int]]:
    """rfft bin ranges ``[lo, hi)`` of each band; bands above Nyquist are dropped."""
    freqs = np.fft.rfftfreq(window, d=1.0 / rate_hz)
    nyq = rate_hz / 2
    edges = [b for b in bands_hz if b < nyq] + [np.inf]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = np.nonzero((freqs >= lo) & (freqs < hi if np.isfinite(hi) else freqs <= nyq))[0]
        out.append((int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0))
    return out


def _chunk_features(w: np.ndarray, rate_hz: float, bands_hz: Sequence[float]) -> np.ndarray:
    n, length, c = w.shape
    centred = w - w.mean(axis=1, keepdims=True)
    per_channel = [
        w.mean(axis=1), w.std(axis=1), w.min(axis=1), w.max(axis=1),
        *np.percentile(w, _PERCENTILES, axis=1),
        (w ** 2).mean(axis=1),
        (np.diff(np.signbit(centred), axis=1) != 0).mean(axis=1),  # zero-crossing rate
        np.abs(np.diff(w, axis=1)).mean(axis=1) if length > 1 else np.zeros((n, c)),
    ]
    power = np.abs(np.fft.rfft(centred, axis=1)) ** 2 / length  # (n, F, c)
    for lo, hi in _band_edges(length, rate_hz, bands_hz):
        per_channel.append(np.log1p(power[:, lo:hi].sum(axis=1)) if hi > lo else np.zeros((n, c)))
    feats = np.stack(per_channel, axis=1).reshape(n, -1)  # (n, K*c): feature-major, channel-minor
    if c > 1:
        std = centred.std(axis=1)  # (n, c)
        cov = np.einsum("nlc,nld->ncd", centred, centred) / length
        denom = std[:, :, None] * std[:, None, :]
        corr = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 1e-12)  # flat channel: 0
        iu = np.triu_indices(c, k=1)
        feats = np.concatenate([feats, corr[:, iu[0], iu[1]]], axis=1)
    return feats


def window_features(windows: np.ndarray, rate_hz: float,
                    bands_hz: Sequence[float] = DEFAULT_BANDS_HZ) -> np.ndarray:
    """Feature matrix ``(N, D)`` float32 for windows ``(N, L, C)`` sampled at ``rate_hz``."""
    if windows.ndim != 3:
        raise ValueError(f"expected windows of shape (N, L, C), got {windows.shape}")
    parts = [
        _chunk_features(np.asarray(windows[i:i + _CHUNK], dtype=np.float64), rate_hz, bands_hz)
        for i in range(0, len(windows), _CHUNK)
    ]
    if not parts:
        return np.zeros((0, len(feature_names(windows.shape[2], windows.shape[1], rate_hz, bands_hz))),
                        np.float32)
    return np.concatenate(parts).astype(np.float32)


def feature_names(num_channels: int, window: int, rate_hz: float,
                  bands_hz: Sequence[float] = DEFAULT_BANDS_HZ, channel_names: Sequence[str] | None = None
                  ) -> list[str]:
    """Column names of :func:`window_features`, in order."""
    ch = list(channel_names) if channel_names is not None else [f"ch{i}" for i in range(num_channels)]
    kinds = ["mean", "std", "min", "max", *(f"p{p}" for p in _PERCENTILES), "energy", "zcr", "mad_diff"]
    edges = [b for b in bands_hz if b < rate_hz / 2] + [rate_hz / 2]
    kinds += [f"logpow_{lo:g}-{hi:g}Hz" for lo, hi in zip(edges[:-1], edges[1:])]
    names = [f"{k}[{c}]" for k in kinds for c in ch]
    names += [f"corr[{ch[i]},{ch[j]}]" for i in range(num_channels) for j in range(i + 1, num_channels)]
    return names


class FeatureRandomForest:
    """``window_features`` followed by ``sklearn.ensemble.RandomForestClassifier``.

    Args:
        seed: the forest's ``random_state``.
        rate_hz: sampling rate of the windows (for the spectral bands).
        n_estimators, max_depth, min_samples_leaf, max_features: passed to the forest.
        class_weight: ``None`` or ``"balanced"``.
        n_jobs: worker processes for fitting/prediction (results do not depend on it).
        bands_hz: spectral band edges.
    """

    def __init__(self, seed: int, rate_hz: float, *, n_estimators: int = 300, max_depth: int | None = None,
                 min_samples_leaf: int = 1, max_features: str | float = "sqrt",
                 class_weight: str | None = None, n_jobs: int = 1,
                 bands_hz: Sequence[float] = DEFAULT_BANDS_HZ):
        from sklearn.ensemble import RandomForestClassifier

        self.rate_hz = float(rate_hz)
        self.bands_hz = tuple(float(b) for b in bands_hz)
        self.forest = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
            max_features=max_features, class_weight=class_weight, n_jobs=n_jobs, random_state=seed,
        )

    @classmethod
    def check_model_args(cls, args: dict) -> None:
        """scikit-learn checks the forest's arguments when it fits (nothing to check before the data is read)."""

    def features(self, windows: np.ndarray) -> np.ndarray:
        return window_features(windows, self.rate_hz, self.bands_hz)

    def fit(self, windows: np.ndarray, labels: np.ndarray) -> "FeatureRandomForest":
        self.forest.fit(self.features(windows), np.asarray(labels, dtype=np.int64))
        return self

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(self.forest.predict(self.features(windows)), dtype=np.int64)

    def num_nodes(self) -> int:
        return int(sum(t.tree_.node_count for t in self.forest.estimators_))

    def fit_summary(self) -> dict:
        """Extras for the harness's metrics: the forest's size (``tree_nodes``)."""
        return {"tree_nodes": self.num_nodes()}

    def save(self, path: str | Path) -> None:
        save_forest(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> ForestArrays:
        """The forest :meth:`save` wrote, as a numpy predictor (``device`` is accepted for the loader's
        interface; the trees run on the CPU)."""
        return load_forest(path)


@dataclass
class ForestArrays(Classifier):
    """A fitted forest as plain arrays, with a numpy ``predict`` equal to scikit-learn's. As a
    :class:`~sensorllm.classifier.Classifier`, :meth:`predict_proba` is scikit-learn's ``predict_proba``: the mean
    over trees of the leaf's class frequencies (0 for classes the forest never saw)."""

    default_batch_size = 512

    trees: list[dict[str, np.ndarray]]  # children_left/right, feature, threshold, proba (n_nodes, K_fit)
    classes: np.ndarray  # (K_fit,) class ids seen in training
    rate_hz: float
    bands_hz: tuple[float, ...]

    def _leaf_sums(self, x: np.ndarray) -> np.ndarray:
        """``(N, K_fit)``: the sum over trees of the leaf's class frequencies."""
        # scikit-learn compares float32 features with float64 thresholds; do the same.
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        proba = np.zeros((len(x), len(self.classes)))
        rows = np.arange(len(x))
        for t in self.trees:
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                inner = t["children_left"][node] != -1
                if not inner.any():
                    break
                i, nd = rows[inner], node[inner]
                go_left = x[i, t["feature"][nd]] <= t["threshold"][nd]
                node[inner] = np.where(go_left, t["children_left"][nd], t["children_right"][nd])
            proba += t["proba"][node]
        return proba

    def proba_features(self, x: np.ndarray) -> np.ndarray:
        """``(N, K_fit)``: the mean over trees of the leaf's class frequencies (scikit-learn's ``predict_proba``)."""
        return self._leaf_sums(x) / max(len(self.trees), 1)

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(self._leaf_sums(x), axis=1)]

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return self.predict_features(window_features(windows, self.rate_hz, self.bands_hz))

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        """``(N, K)``; its argmax is :meth:`predict` (windows cast to float32 first, as the prepared windows the
        forest was fitted on are)."""
        return self.window_proba(windows, lambda w, k: scatter_classes(
            self.proba_features(window_features(w, self.rate_hz, self.bands_hz)), self.classes, k))


def save_forest(model: FeatureRandomForest, path: str | Path) -> None:
    """Write the fitted forest's node arrays to ``path`` (safetensors, no pickle)."""
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {"classes": np.asarray(model.forest.classes_, dtype=np.int64)}
    for i, est in enumerate(model.forest.estimators_):
        tr = est.tree_
        value = tr.value[:, 0, :].astype(np.float64)  # (n_nodes, K_fit)
        proba = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
        tensors[f"tree{i}.children_left"] = tr.children_left.astype(np.int64)
        tensors[f"tree{i}.children_right"] = tr.children_right.astype(np.int64)
        tensors[f"tree{i}.feature"] = np.maximum(tr.feature, 0).astype(np.int64)  # leaves: -2 -> 0 (unused)
        tensors[f"tree{i}.threshold"] = tr.threshold.astype(np.float64)
        tensors[f"tree{i}.proba"] = proba
    meta = {"format": "sensorllm-forest-v1", "n_trees": str(len(model.forest.estimators_)),
            "rate_hz": repr(model.rate_hz), "bands_hz": json.dumps(list(model.bands_hz))}
    save_file(tensors, str(path), metadata=meta)


def load_forest(path: str | Path) -> ForestArrays:
    """Read a forest written by :func:`save_forest`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata() or {}
        if meta.get("format") != "sensorllm-forest-v1":
            raise ValueError(f"{path} is not a forest saved by sensorllm (format {meta.get('format')!r})")
        n = int(meta["n_trees"])
        keys = ("children_left", "children_right", "feature", "threshold", "proba")
        trees = [{k: fh.get_tensor(f"tree{i}.{k}") for k in keys} for i in range(n)]
        classes = fh.get_tensor("classes")
    return ForestArrays(trees, classes, float(meta["rate_hz"]), tuple(json.loads(meta["bands_hz"])))
