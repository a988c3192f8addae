"""One entry point for every trained classifier: a SensorLLM run or checkpoint, or a ``sensorllm baseline`` run.

:func:`inspect_model` looks at a ``--model`` directory and reads only its JSON (fast, so input checks can run
before any weights load): what it is and its :class:`ModelInfo` (channels with units when known, classes,
window, rate, stride, gap limit and the training channel statistics). Anything else gets one
:class:`ModelDirError` line saying what the directory is and what is needed.

:func:`load_classifier` returns a :class:`Classifier`, the common interface that ``sensorllm predict``,
``evaluate`` and ``stream`` use: ``channels``, ``class_names``, ``window``, ``rate_hz``, ``stride`` and
``predict_proba(windows, indices)`` over ``(N, window, C)`` arrays in the model's channel order.

* :class:`SensorLLMClassifier`: a Stage-2 SensorLLM; window ``i`` gets the Stage-2 text with the per-window seed
  ``record_rng(text_seed, 2, "predict", i)`` (:func:`~sensorllm.serve.predict.window_item`), scored in the
  training's precision.
* :class:`BaselineClassifier`: torch nets (softmax of the logits), ``features-rf`` (the mean of the trees' leaf
  class frequencies, as scikit-learn's ``predict_proba``), ``chronos-mlp`` (softmax of the MLP logits) and
  ``chronos-ncm`` (no probabilities: 1 for the nearest class mean). Windows are cast to float32 first, as the
  prepared windows they were trained on are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensorllm.datasets.spec import ChannelSpec

__all__ = [
    "BaselineClassifier",
    "Classifier",
    "ModelDirError",
    "ModelInfo",
    "SensorLLMClassifier",
    "inspect_model",
    "load_classifier",
]

SENSORLLM_FORMAT = "sensorllm-delta"  # sensorllm.model.checkpoint.CHECKPOINT_FORMAT (not imported: slow)

_WHAT_TO_PASS = ("a `sensorllm tune` run (with model/config.json) or checkpoint directory, or a "
                 "`sensorllm baseline` run (config.json + model.safetensors)")


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
        window / rate_hz / stride / max_gap: windowing of raw recordings (``None`` where not recorded).
        channel_stats: the training windows' per-channel magnitudes
            (:func:`~sensorllm.eval.evaluate.channel_scale_stats`), ``None`` for models saved without them.
        notes: fallbacks taken for an older run (printed by the commands).
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


# ---- inspecting a directory ------------------------------------------------------------------------------


def _read_json(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _stride(window: int | None, *candidates) -> tuple[int | None, list[str]]:
    for c in candidates:
        if c:
            return int(c), []
    if window is None:
        return None, []
    return max(1, window // 2), [f"no training stride recorded: using window/2 = {max(1, window // 2)} samples"]


def sensorllm_info(meta: dict, path: str | Path, model_dir: str | Path | None = None) -> ModelInfo:
    """:class:`ModelInfo` of a SensorLLM checkpoint's ``config.json`` (``meta``)."""
    extra = meta.get("extra") or {}
    spec = extra.get("dataset") or {}
    labels = list((meta.get("config") or {}).get("labels") or [])
    channels = [ChannelSpec(**c) for c in spec.get("channels", [])] if spec.get("channels") else None
    names = [c.name for c in channels] if channels else list((meta.get("config") or {}).get("channels") or [])
    window = int(extra["window"]) if extra.get("window") else None
    stride, notes = _stride(window, extra.get("stride"))
    return ModelInfo(
        path=Path(path), model_dir=Path(model_dir or path), kind="sensorllm", name="SensorLLM",
        stage=extra.get("stage") or ("stage2" if labels else "stage1"), channel_names=names, channels=channels,
        class_names=labels, window=window, rate_hz=float(extra["rate_hz"]) if extra.get("rate_hz") else None,
        stride=stride, max_gap=int(spec.get("max_gap", 10)), channel_stats=extra.get("channel_stats"),
        notes=notes, meta=meta)


def _baseline_info(p: Path, cfg: dict) -> ModelInfo:
    from sensorllm.baselines import UnknownBaselineError, get_baseline, list_baselines

    try:
        spec = get_baseline(str(cfg["baseline"]))
    except UnknownBaselineError:
        raise ModelDirError(f"{p} is a run of baseline {cfg['baseline']!r}, which this version does not know "
                            f"(known: {', '.join(list_baselines())})") from None
    if not (p / "model.safetensors").is_file():
        raise ModelDirError(f"{p} is an unfinished {spec.name} baseline run: it has no model.safetensors yet "
                            "(wait for `sensorllm baseline` to finish, or re-run it)")
    ds = dict(cfg.get("dataset") or {})
    notes: list[str] = []
    need = ("rate_hz", "window", "channels", "classes")
    missing = [k for k in need if not ds.get(k)]
    manifest = None
    if missing or not ds.get("spec"):  # an older run: what the prepared dataset it was trained on says
        mdir = Path(str(ds.get("dir", "")))
        manifest = _read_json(mdir / "manifest.json") if ds.get("dir") else None
        if manifest is not None and missing:
            fill = {"rate_hz": manifest.get("rate_hz"), "window": manifest.get("window"),
                    "channels": manifest.get("channels"), "classes": manifest.get("classes")}
            ds.update({k: fill[k] for k in missing if fill.get(k)})
            notes.append(f"{', '.join(missing)} not in config.json (older run): read from {mdir / 'manifest.json'}")
        missing = [k for k in need if not ds.get(k)]
    if missing:
        raise ModelDirError(
            f"{p} is a {spec.name} baseline run whose config.json lacks dataset {', '.join(missing)} (written by an "
            "older version) and its prepared dataset is not at dataset.dir: re-run its `command` (in config.json) "
            "with this version, or add those keys under \"dataset\"")
    dspec = ds.get("spec") or (manifest or {}).get("spec") or {}
    channels = None
    if dspec.get("channels") and [c["name"] for c in dspec["channels"]] == list(ds["channels"]):
        channels = [ChannelSpec(**c) for c in dspec["channels"]]
    else:
        notes.append("channel units not recorded (older run): units are not compared")
    window = int(ds["window"])
    stride, more = _stride(window, ds.get("stride"), dspec.get("stride"), (manifest or {}).get("stride"))
    return ModelInfo(
        path=p, model_dir=p, kind="baseline", name=spec.name, stage=None, channel_names=list(ds["channels"]),
        channels=channels, class_names=list(ds["classes"]), window=window, rate_hz=float(ds["rate_hz"]),
        stride=stride, max_gap=int(dspec.get("max_gap", 10)), channel_stats=ds.get("channel_stats"),
        notes=notes + more, meta=cfg)


def inspect_model(path: str | Path) -> ModelInfo:
    """What ``path`` is, from its JSON only (no weights are read).

    Raises:
        ModelDirError: not a SensorLLM checkpoint/run or a finished baseline run; the message says what the
            directory is (missing, a file, a prepared dataset, an unfinished run, a Hugging Face model ...).
    """
    p = Path(path)
    if not p.exists():
        raise ModelDirError(f"{p} does not exist; --model takes {_WHAT_TO_PASS}")
    if not p.is_dir():
        raise ModelDirError(f"{p} is a file; --model takes {_WHAT_TO_PASS}")
    top = _read_json(p / "config.json")
    if top is not None and "baseline" in top:
        return _baseline_info(p, top)
    for d in (p / "model", p):
        cfg = top if d == p else _read_json(d / "config.json")
        if cfg is not None and cfg.get("format") == SENSORLLM_FORMAT:
            if not (d / "weights.safetensors").is_file():
                raise ModelDirError(f"{d} is an incomplete SensorLLM checkpoint: config.json without "
                                    "weights.safetensors")
            if cfg.get("format_version") != 1:
                raise ModelDirError(f"{d} is a SensorLLM checkpoint of format_version "
                                    f"{cfg.get('format_version')}; this version reads format_version 1")
            return sensorllm_info(cfg, p, d)
    if (p / "manifest.json").is_file():
        raise ModelDirError(f"{p} is a prepared dataset (manifest.json), not a trained model; --model takes "
                            f"{_WHAT_TO_PASS}")
    if (p / "checkpoints").is_dir() and not (p / "model").exists():
        raise ModelDirError(f"{p} is a SensorLLM run without a final model/ (training not finished?); pass one "
                            f"of its checkpoints, {p / 'checkpoints'}/step-*/model")
    if top is not None and "model_type" in top:
        raise ModelDirError(f"{p} holds a Hugging Face {top['model_type']} model (e.g. an encoder from `sensorllm "
                            f"pretrain-encoder`), not a classifier; --model takes {_WHAT_TO_PASS}")
    if top is not None:
        raise ModelDirError(f"{p / 'config.json'} is neither a SensorLLM checkpoint (format "
                            f"{SENSORLLM_FORMAT!r}) nor a baseline run (a \"baseline\" key); --model takes "
                            f"{_WHAT_TO_PASS}")
    raise ModelDirError(f"{p} holds no config.json, so it is not a model directory; --model takes {_WHAT_TO_PASS}")


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

    def __init__(self, model, meta: dict, precision: str | None = None, path: str | Path | None = None) -> None:
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
        self.info = sensorllm_info({**meta, "config": {**meta.get("config", {}),
                                                       "labels": list(model.config.labels)}},
                                   path or "<model>")
        self.specs = list(self.info.channels or [])
        self.notes = list(self.info.notes)
        if extra.get("random_init_encoder") or (meta.get("encoder") or {}).get("is_random_init"):
            self.notes.append("the time-series encoder is RANDOM-INIT (no pretrained weights)")

    def items(self, windows: np.ndarray, indices: Sequence[int] | None = None) -> list:
        """The Stage-2 items of ``windows`` (window ``k`` numbered ``indices[k]``)."""
        from .predict import window_item

        w = self._check(windows)
        idx = range(len(w)) if indices is None else indices
        return [window_item(np.asarray(w[k], dtype=np.float64), int(i), self.specs, self.rate_hz, self.extra)
                for k, i in enumerate(idx)]

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        from sensorllm.eval.classify import predict_proba, training_precision

        if len(windows) == 0:
            return np.zeros((0, len(self.class_names)))
        probs, _ = predict_proba(self.model, self.items(windows, indices), batch_size or self.default_batch_size,
                                 mixed_precision=training_precision(self.extra, self.precision))
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
        x = np.asarray(window_features(w, f.rate_hz, f.bands_hz), dtype=np.float32).astype(np.float64)
        proba = np.zeros((len(x), len(f.classes)))
        rows = np.arange(len(x))
        for t in f.trees:
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                inner = t["children_left"][node] != -1
                if not inner.any():
                    break
                i, nd = rows[inner], node[inner]
                go_left = x[i, t["feature"][nd]] <= t["threshold"][nd]
                node[inner] = np.where(go_left, t["children_left"][nd], t["children_right"][nd])
            proba += t["proba"][node]
        out = np.zeros((len(x), self.k))
        out[:, np.asarray(f.classes, dtype=np.int64)] = proba / max(len(f.trees), 1)
        return out


def load_classifier(model: str | Path | ModelInfo, device: str = "cpu", precision: str | None = None,
                    command: str = "predict") -> Classifier:
    """Load any classifier directory (:func:`inspect_model`) as a :class:`Classifier` on ``device`` (``auto``:
    the GPU when one is visible). ``precision``: SensorLLM only (see
    :func:`~sensorllm.eval.classify.training_precision`). ``command`` names the command in errors.

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
        return SensorLLMClassifier(m, meta, precision, info.path)
    from sensorllm.baselines.train import load_baseline_model

    try:
        m = load_baseline_model(info.model_dir, device=device)
    except (RuntimeError, KeyError, TypeError) as exc:  # shapes, keys or model args that no longer fit
        raise ModelDirError(f"{info.path}: the {info.name} weights do not load with this version: {exc}") from exc
    return BaselineClassifier(m, info)
