"""The one artifact module: it saves, inspects and loads every model kind, a SensorLLM checkpoint and every
baseline run alike.

* :func:`inspect_model` tells from a directory's JSON alone (no weights read, no torch imported, so input checks
  can run before any weights load) what it is: its :class:`~sensorllm.classifier.ModelInfo` (channels with units
  when known, classes, window, rate, stride, gap limit and the training channel statistics). Anything else gets
  one :class:`~sensorllm.classifier.ModelDirError` line saying what the directory is and what is needed.
* :func:`load_model` is the loader of ``sensorllm evaluate``, ``predict``, ``stream`` and ``compare``: any model
  directory (or its :class:`~sensorllm.classifier.ModelInfo`) becomes a :class:`~sensorllm.classifier.Classifier`:
  a :class:`~sensorllm.infer.sensorllm.SensorLLMClassifier` or the baseline's own model class (each implements
  the interface itself). :func:`load_sensorllm` is its SensorLLM part, for what needs the model itself
  (``describe``, open-vocabulary recognition).
* :func:`save_model` writes a trained model: a SensorLLM checkpoint directory (``config.json`` +
  ``weights.safetensors``, :mod:`sensorllm.model.checkpoint`) or a baseline run's ``model.safetensors`` (the
  run's ``config.json`` is written by :func:`sensorllm.train.baseline.run_baseline` before training).

The file names and format strings are :mod:`sensorllm.checkpoint_format`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sensorllm.checkpoint_format import (BASELINE_WEIGHTS_FILE, CHECKPOINT_FORMAT, CONFIG_FILE, FORMAT_VERSION,
                                         WEIGHTS_FILE)
from sensorllm.classifier import Classifier, ModelDirError, ModelInfo, class_details, recorded_stride
from sensorllm.datasets.spec import ChannelSpec

__all__ = [
    "ModelDirError",
    "ModelInfo",
    "inspect_model",
    "load_model",
    "load_sensorllm",
    "resolve_model_dir",
    "save_model",
]

_WHAT_TO_PASS = ("a `sensorllm tune` run (with model/config.json) or checkpoint directory, or a "
                 "`sensorllm baseline` run (config.json + model.safetensors)")


# ---- inspecting a directory ------------------------------------------------------------------------------


def _read_json(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _baseline_info(p: Path, cfg: dict) -> ModelInfo:
    from sensorllm.baselines import UnknownBaselineError, get_baseline, list_baselines

    try:
        spec = get_baseline(str(cfg["baseline"]))
    except UnknownBaselineError:
        raise ModelDirError(f"{p} is a run of baseline {cfg['baseline']!r}, which this version does not know "
                            f"(known: {', '.join(list_baselines())})") from None
    if not (p / BASELINE_WEIGHTS_FILE).is_file():
        raise ModelDirError(f"{p} is an unfinished {spec.name} baseline run: it has no {BASELINE_WEIGHTS_FILE} yet "
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
    stride, more = recorded_stride(window, ds.get("stride"), dspec.get("stride"), (manifest or {}).get("stride"))
    names = list(ds["classes"])
    saved = None
    if ds.get("class_codes") is not None and len(ds["class_codes"]) == len(names):
        descriptions = ds.get("class_descriptions") or [""] * len(names)
        saved = [{"name": n, "code": c, "description": d} for n, c, d in zip(names, ds["class_codes"], descriptions)]
    codes, descriptions = class_details(names, saved, dspec)
    return ModelInfo(
        path=p, model_dir=p, kind="baseline", name=spec.name, stage=None, channel_names=list(ds["channels"]),
        channels=channels, class_names=names, window=window, rate_hz=float(ds["rate_hz"]),
        stride=stride, max_gap=int(dspec.get("max_gap", 10)), channel_stats=ds.get("channel_stats"),
        notes=notes + more, meta=cfg, class_codes=codes, class_descriptions=descriptions)


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
        cfg = top if d == p else _read_json(d / CONFIG_FILE)
        if cfg is not None and cfg.get("format") == CHECKPOINT_FORMAT:
            if not (d / WEIGHTS_FILE).is_file():
                raise ModelDirError(f"{d} is an incomplete SensorLLM checkpoint: {CONFIG_FILE} without "
                                    f"{WEIGHTS_FILE}")
            if cfg.get("format_version") != FORMAT_VERSION:
                raise ModelDirError(f"{d} is a SensorLLM checkpoint of format_version {cfg.get('format_version')}; "
                                    f"this version reads format_version {FORMAT_VERSION}")
            return ModelInfo.of_checkpoint(cfg, p, d)
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
                            f"{CHECKPOINT_FORMAT!r}) nor a baseline run (a \"baseline\" key); --model takes "
                            f"{_WHAT_TO_PASS}")
    raise ModelDirError(f"{p} holds no config.json, so it is not a model directory; --model takes {_WHAT_TO_PASS}")


# ---- loading ---------------------------------------------------------------------------------------------


def resolve_model_dir(path: str | Path) -> Path:
    """The SensorLLM checkpoint directory of ``path``: a run directory (holding ``model/``) or a checkpoint
    directory itself."""
    p = Path(path)
    if (p / "model" / CONFIG_FILE).is_file():
        return p / "model"
    if (p / CONFIG_FILE).is_file():
        return p
    raise FileNotFoundError(f"{p} is neither a run directory with model/ nor a SensorLLM checkpoint directory")


def load_sensorllm(path: str | Path | ModelInfo, device: str = "cpu"):
    """``(model, meta)`` of a SensorLLM run or checkpoint directory (Stage 1 or 2), in eval mode on ``device``
    (``auto`` = the GPU when one is visible); ``meta`` is the checkpoint's ``config.json`` (``meta["extra"]``
    holds the dataset and text settings). The SensorLLM part of :func:`load_model`.

    Raises:
        ModelDirError: a baseline run.
        CheckpointError: the weights do not fit the model rebuilt from the config.
    """
    from sensorllm.model import load_checkpoint, read_checkpoint_config
    from sensorllm.utils import resolve_device

    if isinstance(path, ModelInfo):
        d = path.model_dir
    else:
        d = resolve_model_dir(path)
        cfg = _read_json(d / CONFIG_FILE) or {}
        if "baseline" in cfg:
            raise ModelDirError(f"{d} is a {cfg['baseline']} baseline run, not a SensorLLM checkpoint: load it with "
                                "sensorllm.infer.artifact.load_model")
    meta = read_checkpoint_config(d)
    model = load_checkpoint(d)
    model.to(resolve_device(device))
    model.eval()
    return model, meta


def load_model(model: str | Path | ModelInfo, device: str = "cpu", *, precision: str | None = None,
               workers: int = 1, command: str | None = None) -> Classifier:
    """Load any model directory (:func:`inspect_model`; or its :class:`ModelInfo`) as a
    :class:`~sensorllm.classifier.Classifier` on ``device`` (``auto``: the GPU when one is visible).

    SensorLLM: a :class:`~sensorllm.infer.sensorllm.SensorLLMClassifier` (a Stage-1 model loads too, for
    ``evaluate``'s description scores; it has no classes); ``precision`` and ``workers`` (batches scored at once
    on the CPU) are its settings (:func:`~sensorllm.infer.stage2.training_precision`,
    :func:`~sensorllm.infer.stage2.predict_proba`). Baselines: the baseline's own model class
    (:meth:`sensorllm.baselines.BaselineSpec.load`). ``command``: the model must classify (a Stage-2 SensorLLM or
    a baseline); the command is named in errors.

    Raises:
        ModelDirError: not a model directory, a Stage-1 model where ``command`` needs a classifier, or weights that
            do not load.
    """
    info = model if isinstance(model, ModelInfo) else inspect_model(model)
    if command is not None:
        info.require_classifier(command)
    if info.kind == "sensorllm":
        from .sensorllm import SensorLLMClassifier

        try:
            m, meta = load_sensorllm(info, device)
        except RuntimeError as exc:  # CheckpointError: the weights do not fit the model rebuilt from config
            raise ModelDirError(f"{info.path}: the SensorLLM checkpoint does not load: {exc}") from exc
        return SensorLLMClassifier(m, meta, precision, info.path, workers)
    from sensorllm.baselines import get_baseline

    try:
        clf = get_baseline(info.name).load(info.model_dir, info.meta, device=device)
    except (RuntimeError, KeyError, TypeError) as exc:  # shapes, keys or model args that no longer fit
        raise ModelDirError(f"{info.path}: the {info.name} weights do not load with this version: {exc}") from exc
    return clf.bind(info)


# ---- saving ----------------------------------------------------------------------------------------------


def save_model(model: Any, directory: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Save a trained model into ``directory`` (created) and return the directory.

    * a :class:`~sensorllm.model.SensorLLM`: a checkpoint directory, ``config.json`` + ``weights.safetensors``
      (:func:`~sensorllm.model.checkpoint.save_checkpoint`; ``extra``: JSON-able information kept with it, as
      :func:`~sensorllm.train.common.checkpoint_extra` makes it);
    * a baseline model (a :class:`~sensorllm.classifier.Classifier` of :mod:`sensorllm.baselines`, or the
      estimator a feature baseline fits): ``model.safetensors``, written by the model's own ``save``; the run's
      ``config.json`` is the training program's (``extra`` must be ``None``).
    """
    from sensorllm.model import SensorLLM, save_checkpoint

    d = Path(directory)
    if isinstance(model, SensorLLM):
        return save_checkpoint(model, d, extra)
    if extra is not None:
        raise ValueError("extra is kept with a SensorLLM checkpoint; a baseline run keeps its settings in its "
                         "config.json")
    d.mkdir(parents=True, exist_ok=True)
    model.save(d / BASELINE_WEIGHTS_FILE)
    return d
