"""What a ``--model`` directory is, from its JSON only: a SensorLLM run or checkpoint, or a ``sensorllm
baseline`` run.

:func:`inspect_model` reads only the directory's JSON (fast, so input checks can run before any weights load):
what it is and its :class:`ModelInfo` (channels with units when known, classes, window, rate, stride, gap
limit and the training channel statistics). Anything else gets one :class:`ModelDirError` line saying what the
directory is and what is needed. Loading the weights as a classifier is :mod:`sensorllm.serve.models`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sensorllm.checkpoint_format import CHECKPOINT_FORMAT, CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE
from sensorllm.datasets.spec import ChannelSpec, class_records

__all__ = [
    "ModelDirError",
    "ModelInfo",
    "inspect_model",
    "sensorllm_info",
]

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
        class_codes / class_descriptions: each class's label code (what the label cells of the dataset held,
            ``PEN`` for ``pendulum swing``) and description from the dataset spec, in the same order; ``""``
            where the spec gave none, or for a model saved before codes were stored whose spec is unknown.
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
    class_codes: list[str] = field(default_factory=list)
    class_descriptions: list[str] = field(default_factory=list)

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


# ---- inspecting a directory ------------------------------------------------------------------------------


def _read_json(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _classes(names: list[str], saved: list | None, spec: dict | None) -> tuple[list[str], list[str]]:
    """Codes and descriptions of ``names``: as saved with the model (``saved``: records ``{name, code,
    description}``), else from the dataset spec's classes by name (models saved before codes were stored)."""
    by_name = {str(c.get("name")): c for c in saved or [] if isinstance(c, dict)}
    if names and all(n in by_name for n in names):
        recs = [by_name[n] for n in names]
    else:
        recs = class_records(names, (spec or {}).get("classes"))
    return [str(r.get("code") or "") for r in recs], [str(r.get("description") or "") for r in recs]


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
    codes, descriptions = _classes(labels, meta.get("classes"), spec)
    return ModelInfo(
        path=Path(path), model_dir=Path(model_dir or path), kind="sensorllm", name="SensorLLM",
        stage=extra.get("stage") or ("stage2" if labels else "stage1"), channel_names=names, channels=channels,
        class_names=labels, window=window, rate_hz=float(extra["rate_hz"]) if extra.get("rate_hz") else None,
        stride=stride, max_gap=int(spec.get("max_gap", 10)), channel_stats=extra.get("channel_stats"),
        notes=notes, meta=meta, class_codes=codes, class_descriptions=descriptions)


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
    names = list(ds["classes"])
    saved = None
    if ds.get("class_codes") is not None and len(ds["class_codes"]) == len(names):
        descriptions = ds.get("class_descriptions") or [""] * len(names)
        saved = [{"name": n, "code": c, "description": d} for n, c, d in zip(names, ds["class_codes"], descriptions)]
    codes, descriptions = _classes(names, saved, dspec)
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
                            f"{CHECKPOINT_FORMAT!r}) nor a baseline run (a \"baseline\" key); --model takes "
                            f"{_WHAT_TO_PASS}")
    raise ModelDirError(f"{p} holds no config.json, so it is not a model directory; --model takes {_WHAT_TO_PASS}")
