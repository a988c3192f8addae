"""One entry point for every trained classifier: a SensorLLM run or checkpoint, or a ``sensorllm baseline`` run.

:func:`load_classifier` takes a ``--model`` directory (or its :class:`~sensorllm.serve.model_info.ModelInfo`
from :func:`~sensorllm.serve.model_info.inspect_model`, which reads only its JSON) and returns a
:class:`Classifier`, the common interface that ``sensorllm predict``, ``evaluate`` and ``stream`` use:
``channels``, ``class_names``, ``window``, ``rate_hz``, ``stride`` and ``predict_proba(windows, indices)``
over ``(N, window, C)`` arrays in the model's channel order. ``inspect_model``, ``ModelInfo`` and ``ModelDirError``
are importable from here as well: ``docs/streaming.md`` documents this module as the one loader with them.

* :class:`SensorLLMClassifier`: a Stage-2 SensorLLM; window ``i`` gets the Stage-2 text with the per-window seed
  ``record_rng(text_seed, 2, "predict", i)`` (:func:`window_item`), scored in the
  training's precision.
* :class:`BaselineClassifier`: torch nets (softmax of the logits), ``features-rf`` (the mean of the trees' leaf
  class frequencies, as scikit-learn's ``predict_proba``), ``chronos-mlp`` (softmax of the MLP logits) and
  ``chronos-ncm`` (no probabilities: 1 for the nearest class mean). Windows are cast to float32 first, as the
  prepared windows they were trained on are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sensorllm.datasets.spec import ChannelSpec

from .model_info import ModelDirError, ModelInfo, inspect_model, sensorllm_info

__all__ = [
    "BaselineClassifier",
    "Classifier",
    "ModelDirError",
    "ModelInfo",
    "SensorLLMClassifier",
    "inspect_model",
    "load_classifier",
    "window_item",
]


def window_item(w: np.ndarray, index: int, channels: list[ChannelSpec], rate: float, extra: dict,
                normalized: bool = True):
    """The Stage-2 item of window number ``index`` of a recording (``w``: ``(window, C)`` in channel order):
    its statistics text uses the per-window seed ``record_rng(text_seed, 2, "predict", index)`` and the text
    settings the model was trained with (``normalized``: its encoder's ``normalizes_series``), so ``predict``
    and ``stream`` give a window the same text."""
    from sensorllm.text import record_rng, stage2_text
    from sensorllm.text.items import Stage2Item

    text = stage2_text(w, channels, rate, record_rng(int(extra.get("text_seed", 0)), 2, "predict", index),
                       extra.get("preprocess_type") or "smry+Q", mode=extra.get("trend_mode", "exact"),
                       stat_digits=extra.get("stat_digits"), normalized=normalized)["text"]
    return Stage2Item(index=index, series={c.name: w[:, j] for j, c in enumerate(channels)}, text=text,
                      label=None)  # type: ignore[arg-type]


# ---- the classifier interface -------------------------------------------------------------------------------


class Classifier:
    """A trained window classifier. ``predict_proba(windows, indices=None, batch_size=None)`` maps
    ``(N, window, C)`` windows in ``channels`` order to ``(N, K)`` class probabilities in ``class_names`` order.
    ``indices`` are the windows' numbers within their recording (SensorLLM derives the text seed from them; the
    baselines ignore them)."""

    info: ModelInfo
    default_batch_size: int = 8
    notes: list[str]

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def channels(self) -> list[str]:
        return list(self.info.channel_names)

    @property
    def names(self) -> list[str]:
        return self.channels

    @property
    def class_names(self) -> list[str]:
        return list(self.info.class_names)

    @property
    def labels(self) -> list[str]:
        return self.class_names

    @property
    def class_codes(self) -> list[str]:
        """Each class's label code from the dataset spec (``""`` where none), in class-index order."""
        return list(self.info.class_codes)

    @property
    def class_descriptions(self) -> list[str]:
        return list(self.info.class_descriptions)

    @property
    def channel_units(self) -> dict[str, str]:
        return self.info.channel_units

    @property
    def window(self) -> int:
        return int(self.info.window)  # type: ignore[arg-type]

    @property
    def rate_hz(self) -> float:
        return float(self.info.rate_hz)  # type: ignore[arg-type]

    @property
    def stride(self) -> int:
        return int(self.info.stride or max(1, self.window // 2))

    @property
    def max_gap(self) -> int:
        return self.info.max_gap

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _check(self, windows: np.ndarray) -> np.ndarray:
        w = np.asarray(windows)
        if w.ndim != 3 or w.shape[2] != len(self.channels):
            raise ValueError(f"expected windows of shape (N, L, {len(self.channels)}) for channels "
                             f"{self.channels}, got {w.shape}")
        return w


class SensorLLMClassifier(Classifier):
    """A Stage-2 SensorLLM with its checkpoint ``config.json`` (``meta``).

    Raises:
        ValueError: a Stage-1 model (no head), or a checkpoint without ``window``/``rate_hz``/``dataset`` under
            ``extra`` (written by ``sensorllm tune``).
    """

    def __init__(self, model, meta: dict, precision: str | None = None, path: str | Path | None = None,
                 workers: int = 1) -> None:
        if getattr(model, "head", None) is None:
            raise ValueError("this is a Stage-1 model (no classifier head): predict, stream and evaluate need a "
                             "Stage-2 model (`sensorllm tune`); use `sensorllm describe` for descriptions")
        extra = meta.get("extra", {})
        missing = [k for k in ("dataset", "window", "rate_hz") if k not in extra]
        if missing:
            raise ValueError(f"the checkpoint's config.json has no {missing} under 'extra' (written by "
                             "`sensorllm tune`); cannot tell the window length, rate and channels")
        self.model = model
        self.meta = meta
        self.extra = extra
        self.precision = precision
        self.workers = int(workers)
        self.info = sensorllm_info({**meta, "config": {**meta.get("config", {}),
                                                       "labels": list(model.config.labels)}},
                                   path or "<model>")
        self.specs = list(self.info.channels or [])
        self.notes = list(self.info.notes)
        if extra.get("random_init_encoder") or (meta.get("encoder") or {}).get("is_random_init"):
            self.notes.append("the time-series encoder is RANDOM-INIT (no pretrained weights)")

    def items(self, windows: np.ndarray, indices: Sequence[int] | None = None) -> list:
        """The Stage-2 items of ``windows`` (window ``k`` numbered ``indices[k]``)."""

        w = self._check(windows)
        idx = range(len(w)) if indices is None else indices
        norm = self.model.encoder.normalizes_series
        return [window_item(np.asarray(w[k], dtype=np.float64), int(i), self.specs, self.rate_hz, self.extra, norm)
                for k, i in enumerate(idx)]

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        from sensorllm.eval.classify import predict_proba, training_precision

        if len(windows) == 0:
            return np.zeros((0, len(self.class_names)))
        probs, _ = predict_proba(self.model, self.items(windows, indices), batch_size or self.default_batch_size,
                                 mixed_precision=training_precision(self.extra, self.precision), workers=self.workers)
        return probs


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class BaselineClassifier(Classifier):
    """A model from :func:`~sensorllm.baselines.train.load_baseline_model` with its run's :class:`ModelInfo`."""

    default_batch_size = 512

    def __init__(self, model, info: ModelInfo) -> None:
        self.model = model
        self.info = info
        self.notes = list(info.notes)
        self.seed = int(info.meta.get("seed", 0) or 0)
        k = len(info.class_names)
        try:
            import torch

            is_torch = isinstance(model, torch.nn.Module)
        except ImportError:  # pragma: no cover
            is_torch = False
        if is_torch:
            self.mode = "torch"
        elif hasattr(model, "trees") and hasattr(model, "classes"):
            self.mode = "forest"
        elif hasattr(model, "_logits") and getattr(model, "net", None) is not None:
            self.mode = "mlp"
        else:
            self.mode = "argmax"
            self.notes.append(f"{info.name} gives no class probabilities: p = 1 for its predicted class")
        self.k = k

    def _pad(self, p: np.ndarray) -> np.ndarray:
        if p.shape[1] == self.k:
            return p
        out = np.zeros((len(p), self.k))
        out[:, : p.shape[1]] = p
        return out

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        w = np.ascontiguousarray(self._check(windows), dtype=np.float32)
        if len(w) == 0:
            return np.zeros((0, self.k))
        bs = int(batch_size or self.default_batch_size)
        if self.mode == "torch":
            import torch

            dev = next(self.model.parameters()).device
            out = []
            with torch.inference_mode():
                for a in range(0, len(w), bs):
                    out.append(self.model(torch.from_numpy(w[a:a + bs]).to(dev)).float().cpu().numpy())
            return self._pad(_softmax(np.concatenate(out).astype(np.float64)))
        if self.mode == "forest":
            return self._forest_proba(w)
        if self.mode == "mlp":
            f = self.model._standardise(self.model.features(w)).astype(np.float32)
            return self._pad(_softmax(self.model._logits(f).numpy().astype(np.float64)))
        pred = np.asarray(self.model.predict(w), dtype=np.int64)
        out = np.zeros((len(w), self.k))
        out[np.arange(len(w)), pred] = 1.0
        return out

    def _forest_proba(self, w: np.ndarray) -> np.ndarray:
        """The mean over trees of the leaf's class frequencies (scikit-learn's ``predict_proba``); its argmax is
        ``ForestArrays.predict``."""
        from sensorllm.baselines.features import window_features

        f = self.model
        out = np.zeros((len(w), self.k))
        out[:, np.asarray(f.classes, dtype=np.int64)] = f.proba_features(window_features(w, f.rate_hz, f.bands_hz))
        return out


def load_classifier(model: str | Path | ModelInfo, device: str = "cpu", precision: str | None = None,
                    command: str = "predict", workers: int = 1) -> Classifier:
    """Load any classifier directory (:func:`inspect_model`) as a :class:`Classifier` on ``device`` (``auto``:
    the GPU when one is visible). ``precision`` and ``workers`` (batches scored at once on the CPU): SensorLLM
    only (see :func:`~sensorllm.eval.classify.training_precision` and
    :func:`~sensorllm.eval.classify.predict_proba`). ``command`` names the command in errors.

    Raises:
        ModelDirError: not a classifier directory, a Stage-1 model, or weights that do not load.
    """
    info = model if isinstance(model, ModelInfo) else inspect_model(model)
    info.require_classifier(command)
    if info.kind == "sensorllm":
        from sensorllm.eval.evaluate import load_model

        try:
            m, meta = load_model(info.model_dir, device)
        except RuntimeError as exc:  # CheckpointError: the weights do not fit the model rebuilt from config
            raise ModelDirError(f"{info.path}: the SensorLLM checkpoint does not load: {exc}") from exc
        return SensorLLMClassifier(m, meta, precision, info.path, workers)
    from sensorllm.baselines.train import load_baseline_model

    try:
        m = load_baseline_model(info.model_dir, device=device)
    except (RuntimeError, KeyError, TypeError) as exc:  # shapes, keys or model args that no longer fit
        raise ModelDirError(f"{info.path}: the {info.name} weights do not load with this version: {exc}") from exc
    return BaselineClassifier(m, info)
