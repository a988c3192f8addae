"""MiniRocket + ridge: the CPU time-series classifier that practitioners try first.

MiniRocket (Dempster et al., KDD 2021) convolves every window with 84 fixed kernels at many dilations, over
random channel combinations, and keeps the proportion of positive values (PPV) of each output against biases
drawn from the training windows' own convolution quantiles: about 10,000 features, no training by gradient. A
ridge classifier with its regularisation chosen by leave-one-out cross-validation reads them. This is aeon's
``MiniRocketClassifier`` (``StandardScaler(with_mean=False)`` then ``RidgeClassifierCV(alphas=logspace(-3, 3,
10))``), built here from its parts so that the fitted model can be saved without pickle.

Saved state (safetensors + JSON): MiniRocket's fitted parameters (channels per combination, channel indices,
dilations, features per dilation, biases), the scaler's scales, the ridge's coefficients, intercepts and
classes. On load the transform is rebuilt with aeon's public ``fit`` on a placeholder window of the right
shape, then its ``parameters`` are replaced by the saved ones, so that the features are exactly those the ridge
was fitted on (a test checks predictions before and after a round trip).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sensorllm.classifier import Classifier, one_hot

__all__ = ["MiniRocketRidge", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("n_channels_per_combination", "channel_indices", "dilations", "n_features_per_dilation", "biases")
_MIN_LENGTH = 9  # MiniRocket's kernels have length 9


def _transformer(n_kernels: int, max_dilations: int, seed: int, n_jobs: int):
    try:
        from aeon.transformations.collection.convolution_based import MiniRocket
    except ImportError as exc:  # pragma: no cover - the extra is installed by make test / make demo
        raise ImportError("the minirocket baseline needs aeon: pip install 'sensorllm[minirocket]'") from exc
    return MiniRocket(n_kernels=n_kernels, max_dilations_per_kernel=max_dilations, n_jobs=n_jobs, random_state=seed)


class MiniRocketRidge(Classifier):
    """MiniRocket features → per-feature scaling → ridge classifier (alpha by leave-one-out CV). As a
    :class:`~sensorllm.classifier.Classifier` it gives no probabilities: 1 for its predicted class.

    Args:
        seed: MiniRocket's random state (channel combinations and the quantiles its biases use).
        rate_hz: sampling rate (recorded; MiniRocket itself needs none).
        n_kernels: number of features (rounded down to a multiple of 84 by MiniRocket).
        max_dilations_per_kernel: MiniRocket's dilation budget.
        alphas_log10: the ridge penalties tried, as ``(low, high, count)`` exponents of ten.
        n_jobs: numba threads for the transform (results do not depend on it).
    """

    default_batch_size = 512
    gives_probabilities = False

    def __init__(self, seed: int, rate_hz: float, *, n_kernels: int = 10_000, max_dilations_per_kernel: int = 32,
                 alphas_log10: tuple[float, float, int] = (-3.0, 3.0, 10), n_jobs: int = 1):
        self.seed, self.rate_hz = int(seed), float(rate_hz)
        self.n_kernels, self.max_dilations = int(n_kernels), int(max_dilations_per_kernel)
        self.alphas = np.logspace(float(alphas_log10[0]), float(alphas_log10[1]), int(alphas_log10[2]))
        self.n_jobs = int(n_jobs)
        self.transform = _transformer(self.n_kernels, self.max_dilations, self.seed, self.n_jobs)
        self.scale: np.ndarray | None = None
        self.coef: np.ndarray | None = None  # (K_fit, F) or (1, F) for two classes
        self.intercept: np.ndarray | None = None
        self.classes: np.ndarray | None = None
        self.alpha: float | None = None

    @classmethod
    def check_model_args(cls, args: dict[str, Any]) -> None:
        bad = []
        if int(args["n_kernels"]) < 84:
            bad.append(f"n_kernels={args['n_kernels']} (MiniRocket needs at least 84)")
        a = args["alphas_log10"]
        if len(a) != 3 or int(a[2]) < 1 or float(a[0]) > float(a[1]):
            bad.append(f"alphas_log10={a!r} (expected [low, high, count] with low <= high, count >= 1)")
        if bad:
            raise ValueError("minirocket: " + "; ".join(bad))

    @staticmethod
    def _channels_first(windows: np.ndarray) -> np.ndarray:
        w = np.asarray(windows, dtype=np.float32)
        if w.ndim != 3:
            raise ValueError(f"expected windows of shape (N, L, C), got {w.shape}")
        if w.shape[1] < _MIN_LENGTH:
            raise ValueError(f"MiniRocket needs windows of at least {_MIN_LENGTH} samples, got {w.shape[1]}")
        if not np.isfinite(w).all():
            raise ValueError("MiniRocket windows must be finite (NaN/inf found); prepare interpolates short gaps")
        return np.ascontiguousarray(w.transpose(0, 2, 1))  # (N, C, L)

    def features(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(self.transform.transform(self._channels_first(windows)), dtype=np.float64)

    def fit(self, windows: np.ndarray, labels: np.ndarray) -> MiniRocketRidge:
        from sklearn.linear_model import RidgeClassifierCV

        x = self._channels_first(windows)
        self.transform.fit(x)
        f = np.asarray(self.transform.transform(x), dtype=np.float64)
        scale = f.std(axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)  # StandardScaler(with_mean=False)
        ridge = RidgeClassifierCV(alphas=self.alphas).fit(f / self.scale, np.asarray(labels, dtype=np.int64))
        self.coef, self.intercept = np.atleast_2d(ridge.coef_), np.atleast_1d(ridge.intercept_)
        self.classes, self.alpha = np.asarray(ridge.classes_, dtype=np.int64), float(ridge.alpha_)
        return self

    def decision(self, windows: np.ndarray) -> np.ndarray:
        """``(N, K_fit)`` ridge scores (for two classes: ``[-s, s]``)."""
        if self.coef is None:
            raise RuntimeError("MiniRocketRidge is not fitted")
        s = (self.features(windows) / self.scale) @ self.coef.T + self.intercept
        return np.concatenate([-s, s], axis=1) if s.shape[1] == 1 else s

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(self.decision(windows), axis=1)]

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        return self.window_proba(windows, lambda w, k: one_hot(self.predict(w), k))

    def fit_summary(self) -> dict:
        return {"ridge_alpha": self.alpha, "n_features": int(self.coef.shape[1]),
                "notes": [f"ridge alpha {self.alpha:g} chosen by leave-one-out CV on the training windows"]}

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        tensors = {f"minirocket.{n}": np.ascontiguousarray(a) for n, a in zip(PARAMETER_NAMES, self.transform.parameters)}
        tensors.update({k: np.ascontiguousarray(v) for k, v in (  # ridge's coef_ is Fortran-ordered
            ("scale", self.scale), ("coef", self.coef), ("intercept", self.intercept), ("classes", self.classes))})
        meta = {"seed": self.seed, "rate_hz": self.rate_hz, "n_kernels": self.n_kernels,
                "max_dilations_per_kernel": self.max_dilations, "alpha": self.alpha,
                "n_channels": int(self.transform.metadata_["n_channels"]),
                "n_timepoints": int(self.transform.metadata_["n_timepoints"])}
        save_file(tensors, str(path), metadata={"minirocket": json.dumps(meta)})

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> MiniRocketRidge:
        """The model :meth:`save` wrote (``device`` is accepted for the loader's interface; MiniRocket runs on
        the CPU)."""
        from safetensors import safe_open
        from safetensors.numpy import load_file

        with safe_open(str(path), framework="np") as fh:
            meta = json.loads((fh.metadata() or {}).get("minirocket", "null") or "null")
        if meta is None:
            raise ValueError(f"{path}: not a MiniRocket model (no 'minirocket' metadata)")
        t = load_file(str(path))
        m = cls(meta["seed"], meta["rate_hz"], n_kernels=meta["n_kernels"],
                max_dilations_per_kernel=meta["max_dilations_per_kernel"])
        length = max(int(meta["n_timepoints"]), _MIN_LENGTH)
        placeholder = np.random.default_rng(0).normal(size=(2, int(meta["n_channels"]), length)).astype(np.float32)
        m.transform.fit(placeholder)  # aeon's own fitted state (shape checks), then the saved parameters
        m.transform.parameters = tuple(t[f"minirocket.{n}"] for n in PARAMETER_NAMES)
        m.scale, m.coef, m.intercept, m.classes = t["scale"], t["coef"], t["intercept"], t["classes"]
        m.alpha = meta["alpha"]
        return m
