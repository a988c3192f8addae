"""Pieces both stage programs share: run setup (seed, threads, config saved, accelerator), the settings taken
from the data (:func:`resolve_encoder_context`) and model construction from a stage config plus the prepared
dataset's manifest."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

from sensorllm.datasets.prepared import PreparedDataset, open_prepared
from sensorllm.model import EncoderConfig, SensorLLM, build_sensor_llm, checkpoint_encoder_config
from sensorllm.model.llm import cache_root

from .config import ConfigError, Stage1Config, Stage2Config, config_to_dict, config_to_yaml

__all__ = ["setup_run", "build_model", "compile_llm", "checkpoint_extra", "open_data", "embedding_cache_dir",
           "resolve_encoder_context"]


def setup_run(cfg: Any, data: PreparedDataset, stage: str):
    """Fill in the settings taken from ``data`` (:func:`resolve_encoder_context`), seed everything, set CPU
    threads, create ``out_dir``, save the resolved config to ``out_dir/config.yaml`` (so the run records the
    values chosen) and print one line saying where, then what was chosen; returns ``(cfg, out_dir,
    accelerator)`` with the resolved ``cfg``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    cfg, chosen = resolve_encoder_context(cfg, data)
    run = cfg.run
    if run.threads:
        torch.set_num_threads(run.threads)
    set_seed(run.seed)
    accelerator = Accelerator(mixed_precision=run.mixed_precision)
    out = Path(run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        (out / "config.yaml").write_text(config_to_yaml(cfg))
        print(f"== sensorllm {stage}: {cfg.data.prepared} → {out} (configuration: {out / 'config.yaml'}) ==",
              flush=True)
    if chosen:
        print(chosen, flush=True)
    return cfg, out, accelerator


def open_data(cfg: Any) -> PreparedDataset:
    if not cfg.data.prepared:
        raise ValueError("data.prepared is not set: point it at a directory written by `sensorllm prepare`")
    return open_prepared(cfg.data.prepared)


def _with_context(cfg: Any, context_length: int | None) -> Any:
    enc = dataclasses.replace(cfg.model.encoder, context_length=context_length)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, encoder=enc))


def _stage1_encoder(cfg: Any) -> EncoderConfig | None:
    """The encoder config of the Stage-1 model a Stage-2 run starts from (``init_from``), when it is of this
    run's kind (whose fit Stage 2 then keeps: ``init_from_stage1``); ``None`` otherwise."""
    if not isinstance(cfg, Stage2Config) or not cfg.init_from:
        return None
    s1 = checkpoint_encoder_config(cfg.init_from)
    return s1 if s1.kind == cfg.model.encoder.kind else None


def resolve_encoder_context(cfg: Stage1Config | Stage2Config, data: PreparedDataset) -> tuple[Any, str | None]:
    """``cfg`` with an unset ``encoder.context_length`` set from the data, for an encoder kind registered with
    ``context_from_data`` (``rocket``: fitted for one series length), and the line saying what was chosen.

    Stage 2 (``Stage2Config``): the length of the prepared windows; from a Stage-1 model of the same kind
    (``init_from``), that model's own context, whose fit Stage 2 keeps (an explicit other value, or windows
    longer than it, are refused). Stage 1: the longest window Stage 1 reads, the top of the prepared random
    window lengths (``manifest["stage1_window"]``: 200 on UCI-HAR). Other kinds, and a value already set, are
    returned unchanged (with ``None``); calling it again on its result changes nothing.

    Raises:
        ConfigError: Stage 2 from a Stage-1 model whose fit does not hold this run's context or windows.
    """
    enc = cfg.model.encoder
    if not enc.context_from_data:
        return cfg, None
    s1 = _stage1_encoder(cfg)
    if s1 is not None:
        kept = s1.context_length  # None: Stage 1 built it with the kind's default, as this run will
        if enc.context_length is not None and kept is not None and enc.context_length != kept:
            raise ConfigError(
                f"encoder.context_length={enc.context_length}, but the Stage-1 model {cfg.init_from} fitted its "
                f"{enc.kind!r} encoder for series of {kept} samples and Stage 2 keeps that fit: set "
                f"encoder.context_length={kept} or leave it null")
        window = int(data.manifest["window"])
        if kept is not None and window > kept:
            raise ConfigError(
                f"{data.root}: windows of {window} samples, but the Stage-1 model {cfg.init_from} fitted its "
                f"{enc.kind!r} encoder for series of up to {kept} samples and Stage 2 keeps that fit: train Stage 1 "
                "on Stage-1 windows at least as long, or start Stage 2 without it (init_from=null)")
        if enc.context_length is not None:
            return cfg, None
        shown = "null (the encoder's default)" if kept is None else str(kept)
        return _with_context(cfg, kept), (f"encoder.context_length: {shown}, kept from the Stage-1 model "
                                          f"{cfg.init_from} (Stage 2 keeps its {enc.kind} fit)")
    if enc.context_length is not None:
        return cfg, None
    if isinstance(cfg, Stage2Config):
        n = int(data.manifest["window"])
        why = "the length of the prepared Stage-2 windows"
    else:
        lo, hi = data.manifest.get("stage1_window") or data.manifest["spec"]["stage1_window"]
        n = int(hi)
        why = f"the longest Stage-1 window (lengths {lo}–{hi})"
    return _with_context(cfg, n), f"encoder.context_length: {n}, {why} ({enc.kind} encoder, not set)"


def embedding_cache_dir(cfg: Any) -> Path:
    return Path(cfg.run.cache_dir) if cfg.run.cache_dir else cache_root() / "embeddings"


def build_model(cfg: Stage1Config | Stage2Config, data: PreparedDataset, labels: bool) -> SensorLLM:
    """The SensorLLM of ``cfg.model`` for ``data``'s channels (and classes when ``labels``), frozen encoder cache
    enabled. The Stage-2 options (head, text layout) come from a Stage-2 config; a Stage-1 model keeps the model
    defaults. The stage programs pass ``cfg`` through :func:`setup_run` first, which resolves an encoder context
    left unset for the data to decide (otherwise the encoder's default)."""
    mcfg = cfg.model.for_data(tuple(data.channel_names), tuple(data.class_names) if labels else None)
    model = build_sensor_llm(mcfg, head_seed=cfg.run.seed)
    print(f"encoder: {model.encoder.describe()}", flush=True)
    if model.encoder.fitted_state:  # fitted after this point (calibrate): a cache key now would name no fit
        print("note: the encoder is fitted on training series, so the embedding cache is not used", flush=True)
    elif not cfg.model.encoder.trainable:
        model.enable_cache(embedding_cache_dir(cfg))
    else:
        print("note: the encoder trains, so the embedding cache is bypassed (its outputs change every step)",
              flush=True)
    if cfg.run.compile:
        compile_llm(model)
    if model.encoder.is_random_init:
        print(f"note: the time-series encoder has no pretrained weights ({model.encoder.source}); "
              "results must say so", flush=True)
    return model


def compile_llm(model: SensorLLM) -> None:
    """``torch.compile`` the LLM's decoder stack in place (``nn.Module.compile``), so parameter names, the
    checkpoints and LoRA are unchanged. ``dynamic=True``: sequence lengths vary from batch to batch, and static
    shapes would recompile for each new length. The first training step pays the compilation (minutes for
    SmolLM2-135M on a CPU); ``benchmarks/bench_train_step.py --compare run.compile=true`` measures the rest."""
    model.hf_model.get_decoder().compile(dynamic=True)
    print("note: the LLM decoder is compiled with torch.compile (dynamic shapes); the first step compiles it",
          flush=True)


_CHANNEL_STATS: dict[tuple[str, int], dict | None] = {}


def _train_channel_stats(data: PreparedDataset) -> dict | None:
    """:func:`~sensorllm.datasets.stats.channel_scale_stats` of the Stage-2 training windows, computed once per
    prepared directory (and manifest version); ``None`` when there are none."""
    from sensorllm.datasets.spec import DataError
    from sensorllm.datasets.stats import channel_scale_stats

    mpath = Path(data.root) / "manifest.json"
    key = (str(mpath.resolve()), mpath.stat().st_mtime_ns if mpath.exists() else 0)
    if key not in _CHANNEL_STATS:
        try:
            windows = data.stage2("train").windows if "train" in data.splits() else None
        except DataError:
            windows = None
        _CHANNEL_STATS[key] = None if windows is None or not len(windows) else \
            channel_scale_stats(windows, data.channel_names)
    return _CHANNEL_STATS[key]


def checkpoint_extra(cfg: Any, data: PreparedDataset, stage: str, **more: Any) -> dict:
    """What a checkpoint must carry to be used without the training config: the dataset's channels (with
    units), rate, window, classes, the text settings and the training windows' per-channel magnitudes
    (``channel_stats``, which ``sensorllm predict``/``stream`` check the input's units against)."""
    return {
        "stage": stage,
        "dataset": data.manifest["spec"],
        "rate_hz": data.rate_hz,
        "window": data.manifest["window"],
        "stride": data.manifest["stride"],
        "preprocess_type": cfg.data.preprocess_type,
        "trend_mode": cfg.data.trend_mode,
        "stat_digits": cfg.data.stat_digits,
        "text_seed": cfg.run.seed,
        "random_init_encoder": cfg.model.encoder.pretrained is None,
        "run_config": json.loads(json.dumps(config_to_dict(cfg))),
        "channel_stats": _train_channel_stats(data),
        **more,
    }


def publish_model(src: Path, dst: Path) -> None:
    """Copy a checkpoint's ``model`` directory to ``dst`` atomically (temp + rename)."""
    import shutil

    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)
