"""A Stage-2 SensorLLM as a :class:`~sensorllm.classifier.Classifier` (:class:`SensorLLMClassifier`).

The windows of a recording become Stage-2 items (:func:`~sensorllm.data.items.window_items`, shared by ``predict``
and ``stream``): window ``i`` gets the Stage-2 text with the per-window seed ``record_rng(text_seed, 2, "predict",
i)``; they are scored in the training's precision (:func:`~sensorllm.infer.stage2.training_precision`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sensorllm.classifier import Classifier, ModelInfo

__all__ = ["SensorLLMClassifier"]


class SensorLLMClassifier(Classifier):
    """A SensorLLM with its checkpoint ``config.json`` (``meta``). A Stage-1 model (no head) is held too (for
    ``evaluate``'s description scores and ``describe``), without classes: :meth:`predict_proba` refuses it.

    ``precision``: ``auto``/``None`` (the training's), ``fp32`` or ``bf16``; ``workers``: batches scored at once
    on the CPU (:func:`~sensorllm.infer.stage2.predict_proba`).
    """

    def __init__(self, model, meta: dict, precision: str | None = None, path: str | Path | None = None,
                 workers: int = 1) -> None:
        self.model = model
        self.meta = meta
        self.extra = meta.get("extra", {})
        self.precision = precision
        self.workers = int(workers)
        labels = list(model.config.labels or []) if model.head is not None else []  # a Stage-1 model: no classes
        self.bind(ModelInfo.of_checkpoint({**meta, "config": {**meta.get("config", {}), "labels": labels}},
                                             path or "<model>"))
        if self.extra.get("random_init_encoder") or (meta.get("encoder") or {}).get("is_random_init"):
            self.notes.append("the time-series encoder is RANDOM-INIT (no pretrained weights)")

    def require_windows(self) -> None:
        """Raise unless this is a Stage-2 model whose checkpoint records its dataset, window and rate (as
        ``sensorllm tune`` writes them): what classifying windows of a recording needs."""
        if self.model.head is None:
            raise ValueError("this is a Stage-1 model (no classifier head): predict, stream and evaluate need a "
                             "Stage-2 model (`sensorllm tune`); use `sensorllm describe` for descriptions")
        missing = [k for k in ("dataset", "window", "rate_hz") if k not in self.extra]
        if missing:
            raise ValueError(f"the checkpoint's config.json has no {missing} under 'extra' (written by "
                             "`sensorllm tune`); cannot tell the window length, rate and channels")

    def items(self, windows: np.ndarray, indices: Sequence[int] | None = None):
        """The :class:`~sensorllm.data.items.Stage2Items` of ``windows`` (window ``k`` numbered ``indices[k]``,
        default ``k``), with the model's text settings."""
        from sensorllm.data.items import TextSettings, window_items

        self.require_windows()
        w = self.check_windows(windows)
        text = TextSettings.of_checkpoint(self.extra, self.model.encoder.normalizes_series)
        return window_items(w, list(self.info.channels or []), float(self.info.rate_hz), text,  # type: ignore[arg-type]
                            indices=indices, key="predict", model_channels=self.model.channels)

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        from .stage2 import predict_proba, training_precision

        self.require_windows()
        if len(windows) == 0:
            return np.zeros((0, len(self.info.class_names)))
        probs, _ = predict_proba(self.model, self.items(windows, indices), batch_size or self.default_batch_size,
                                 mixed_precision=training_precision(self.extra, self.precision), workers=self.workers)
        return probs
