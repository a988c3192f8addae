"""A Stage-2 SensorLLM as a :class:`~sensorllm.classifier.Classifier` (:class:`SensorLLMClassifier`), and the
Stage-2 item of a window of a recording (:func:`window_item`), shared by ``predict`` and ``stream``.

Window ``i`` of a recording gets the Stage-2 text with the per-window seed ``record_rng(text_seed, 2,
"predict", i)``, and is scored in the training's precision (:func:`~sensorllm.eval.classify.training_precision`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sensorllm.classifier import Classifier, ModelInfo
from sensorllm.datasets.spec import ChannelSpec

__all__ = ["SensorLLMClassifier", "window_item"]


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


class SensorLLMClassifier(Classifier):
    """A SensorLLM with its checkpoint ``config.json`` (``meta``). A Stage-1 model (no head) is held too (for
    ``evaluate``'s description scores and ``describe``), without classes: :meth:`predict_proba` refuses it.

    ``precision``: ``auto``/``None`` (the training's), ``fp32`` or ``bf16``; ``workers``: batches scored at once
    on the CPU (:func:`~sensorllm.eval.classify.predict_proba`).
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
        if getattr(self.model, "head", None) is None:
            raise ValueError("this is a Stage-1 model (no classifier head): predict, stream and evaluate need a "
                             "Stage-2 model (`sensorllm tune`); use `sensorllm describe` for descriptions")
        missing = [k for k in ("dataset", "window", "rate_hz") if k not in self.extra]
        if missing:
            raise ValueError(f"the checkpoint's config.json has no {missing} under 'extra' (written by "
                             "`sensorllm tune`); cannot tell the window length, rate and channels")

    def items(self, windows: np.ndarray, indices: Sequence[int] | None = None) -> list:
        """The Stage-2 items of ``windows`` (window ``k`` numbered ``indices[k]``)."""
        self.require_windows()
        w = self.check_windows(windows)
        idx = range(len(w)) if indices is None else indices
        norm = self.model.encoder.normalizes_series
        specs = list(self.info.channels or [])
        return [window_item(np.asarray(w[k], dtype=np.float64), int(i), specs, float(self.info.rate_hz),
                            self.extra, norm)
                for k, i in enumerate(idx)]

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        from sensorllm.eval.classify import predict_proba, training_precision

        self.require_windows()
        if len(windows) == 0:
            return np.zeros((0, len(self.info.class_names)))
        probs, _ = predict_proba(self.model, self.items(windows, indices), batch_size or self.default_batch_size,
                                 mixed_precision=training_precision(self.extra, self.precision), workers=self.workers)
        return probs
