"""The contract every trained window classifier keeps, SensorLLM and baselines alike: what a model directory is
(:class:`ModelInfo`, read from its JSON by :func:`sensorllm.infer.artifact.inspect_model`) and what a loaded model
does (:class:`Classifier`).

This module sits below every model kind: the baselines (:mod:`sensorllm.baselines`) and the SensorLLM classifier
(:mod:`sensorllm.infer.sensorllm`) implement :class:`Classifier`; :mod:`sensorllm.infer.artifact` saves, inspects
and loads them all. It imports no torch.

Names used with one meaning here and by the classifiers: ``channel_names`` (a model's channel names, in its
order), ``channels`` (their :class:`~sensorllm.datasets.spec.ChannelSpec` s), ``class_names`` (the classes in
class-index order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from sensorllm.datasets.spec import ChannelSpec, class_records

__all__ = [
    "Classifier",
    "ModelDirError",
    "ModelInfo",
    "class_details",
    "one_hot",
    "recorded_stride",
    "scatter_classes",
    "softmax",
]


class ModelDirError(ValueError):
    """A ``--model`` directory that is not a usable classifier: one line saying what it is and what it needs."""


@dataclass
class ModelInfo:
    """What a model directory holds, read from its JSON only.

    Attributes:
        path: the directory as given.
        model_dir: the checkpoint directory (SensorLLM) or the run directory (baselines).
        kind: ``sensorllm`` or ``baseline``.
        name: ``SensorLLM`` or the baseline's registry name (``cnn1d``).
        stage: SensorLLM ``stage1``/``stage2``; ``None`` for baselines.
        channel_names: the model's channels, in its order.
        channels: full channel specs (units, placement) when recorded, else ``None``.
        class_names: classes in class-index order (empty for a Stage-1 model).
        class_codes / class_descriptions: each class's label code (what the label cells of the dataset held,
            ``PEN`` for ``pendulum swing``) and description from the dataset spec, in the same order; ``""``
            where the spec gave none.
        window / rate_hz / stride / max_gap: windowing of raw recordings (``None`` where not recorded).
        channel_stats: the training windows' per-channel magnitudes
            (:func:`~sensorllm.datasets.stats.channel_scale_stats`), ``None`` for models saved without them.
        notes: fallbacks taken for a run saved without some of this (printed by the commands).
        meta: the directory's ``config.json``.
    """

    path: Path
    model_dir: Path
    kind: str
    name: str
    stage: str | None
    channel_names: list[str]
    channels: list[ChannelSpec] | None
    class_names: list[str]
    window: int | None
    rate_hz: float | None
    stride: int | None
    max_gap: int
    channel_stats: dict | None
    notes: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    class_codes: list[str] = field(default_factory=list)
    class_descriptions: list[str] = field(default_factory=list)

    @classmethod
    def of_checkpoint(cls, meta: dict, path: str | Path, model_dir: str | Path | None = None) -> ModelInfo:
        """The info of a SensorLLM checkpoint from its ``config.json`` (``meta``) found at ``path``
        (``model_dir``: the checkpoint directory itself, default ``path``)."""
        extra = meta.get("extra") or {}
        spec = extra.get("dataset") or {}
        labels = list((meta.get("config") or {}).get("labels") or [])
        channels = [ChannelSpec(**c) for c in spec.get("channels", [])] if spec.get("channels") else None
        names = [c.name for c in channels] if channels else list((meta.get("config") or {}).get("channels") or [])
        window = int(extra["window"]) if extra.get("window") else None
        stride, notes = recorded_stride(window, extra.get("stride"))
        codes, descriptions = class_details(labels, meta.get("classes"), spec)
        return cls(
            path=Path(path), model_dir=Path(model_dir or path), kind="sensorllm", name="SensorLLM",
            stage=extra.get("stage") or ("stage2" if labels else "stage1"), channel_names=names,
            channels=channels, class_names=labels, window=window,
            rate_hz=float(extra["rate_hz"]) if extra.get("rate_hz") else None, stride=stride,
            max_gap=int(spec.get("max_gap", 10)), channel_stats=extra.get("channel_stats"), notes=notes,
            meta=meta, class_codes=codes, class_descriptions=descriptions)

    def __post_init__(self) -> None:
        k = len(self.class_names)
        self.class_codes = list(self.class_codes or [""] * k)
        self.class_descriptions = list(self.class_descriptions or [""] * k)
        if len(self.class_codes) != k or len(self.class_descriptions) != k:
            raise ModelDirError(f"{self.path}: {k} classes but {len(self.class_codes)} class codes and "
                                f"{len(self.class_descriptions)} descriptions recorded")

    @property
    def channel_units(self) -> dict[str, str]:
        """Channel name → unit, for the channels whose unit is recorded."""
        return {c.name: c.unit for c in self.channels or [] if c.unit}

    @property
    def description(self) -> str:
        if self.kind == "sensorllm":
            return f"a {'Stage-1' if self.stage == 'stage1' else 'Stage-2'} SensorLLM model"
        return f"a {self.name} baseline run"

    def require_classifier(self, command: str) -> None:
        """Raise for a model without a classifier head (a Stage-1 SensorLLM)."""
        if not self.class_names:
            raise ModelDirError(
                f"{self.path} is a Stage-1 SensorLLM model (trend descriptions, no classifier head): `sensorllm "
                f"{command}` needs a Stage-2 model (`sensorllm tune`) or a baseline run; use `sensorllm describe` "
                "for descriptions, or `sensorllm evaluate --labels` for open-vocabulary recognition")

    def require_windowing(self) -> None:
        """Raise when the window length, rate or channels needed on raw recordings are not recorded."""
        if self.window is None or self.rate_hz is None or not self.channel_names:
            raise ModelDirError(f"{self.path}: {self.description} without its window length, rate and channels "
                                "recorded; cannot cut raw recordings into windows")


def class_details(names: list[str], saved: list | None, spec: dict | None) -> tuple[list[str], list[str]]:
    """Codes and descriptions of the classes ``names``: as saved with the model (``saved``: records ``{name,
    code, description}``), else from the dataset spec's classes by name (a model saved without them)."""
    by_name = {str(c.get("name")): c for c in saved or [] if isinstance(c, dict)}
    if names and all(n in by_name for n in names):
        recs = [by_name[n] for n in names]
    else:
        recs = class_records(names, (spec or {}).get("classes"))
    return [str(r.get("code") or "") for r in recs], [str(r.get("description") or "") for r in recs]


def recorded_stride(window: int | None, *candidates) -> tuple[int | None, list[str]]:
    """The first recorded stride among ``candidates``, else ``window // 2`` with a note saying so (``None``
    without a window)."""
    for c in candidates:
        if c:
            return int(c), []
    if window is None:
        return None, []
    return max(1, window // 2), [f"no training stride recorded: using window/2 = {max(1, window // 2)} samples"]


class Classifier:
    """A trained window classifier, loaded by :func:`sensorllm.infer.artifact.load_model`.

    What it is: ``info`` (:class:`ModelInfo`: channels, classes, window, rate, stride, ...; set by :meth:`bind`)
    and ``notes`` (the info's notes and those the loaded model adds, printed by the commands). What it does:
    :meth:`predict_proba` maps ``(N, window, C)`` windows in ``info.channel_names`` order to ``(N, K)`` class
    probabilities in ``info.class_names`` order. ``default_batch_size``: windows per model call unless told.
    """

    default_batch_size: ClassVar[int] = 8
    gives_probabilities: ClassVar[bool] = True
    """False for a model that only predicts a class: ``predict_proba`` gives 1 for it (a note says so)."""

    info: ModelInfo
    notes: list[str]

    def bind(self, info: ModelInfo) -> Classifier:
        """Attach the model directory's :class:`ModelInfo` (done by the loader); returns ``self``."""
        self.info = info
        self.notes = list(info.notes)
        if not self.gives_probabilities:
            self.notes.append(f"{info.name} gives no class probabilities: p = 1 for its predicted class")
        return self

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:  # pragma: no cover - interface
        """``(N, K)`` class probabilities of ``windows`` ``(N, window, C)``. ``indices`` are the windows' numbers
        within their recording (SensorLLM derives each window's text seed from them; the baselines ignore
        them)."""
        raise NotImplementedError

    def check_windows(self, windows: np.ndarray) -> np.ndarray:
        """``windows`` as an array, checked to be ``(N, L, C)`` with the model's ``C`` channels."""
        w = np.asarray(windows)
        names = self.info.channel_names
        if w.ndim != 3 or w.shape[2] != len(names):
            raise ValueError(f"expected windows of shape (N, L, {len(names)}) for channels {list(names)}, "
                             f"got {w.shape}")
        return w

    def window_proba(self, windows: np.ndarray, proba: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
        """The opening of the baselines' :meth:`predict_proba`: ``windows`` checked (:meth:`check_windows`) and
        cast to C-contiguous float32, as the prepared windows a model is fitted on are, then ``proba(w, K)``
        with ``K = len(info.class_names)``. No windows: zeros ``(0, K)``, without calling ``proba``."""
        w = np.ascontiguousarray(self.check_windows(windows), dtype=np.float32)
        k = len(self.info.class_names)
        if len(w) == 0:
            return np.zeros((0, k))
        return proba(w, k)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, K)`` scores (shifted by each row's maximum)."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def scatter_classes(p: np.ndarray, classes: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    """``(N, k)``: the columns of ``p`` ``(N, len(classes))`` at class ids ``classes``, 0 for the classes a model
    never saw in training."""
    out = np.zeros((len(p), k))
    out[:, np.asarray(classes, dtype=np.int64)] = p
    return out


def one_hot(pred: np.ndarray, k: int) -> np.ndarray:
    """``(N, k)`` with 1 at each row's predicted class."""
    pred = np.asarray(pred, dtype=np.int64)
    out = np.zeros((len(pred), k))
    out[np.arange(len(pred)), pred] = 1.0
    return out
