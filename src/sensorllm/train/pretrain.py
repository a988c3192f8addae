"""``sensorllm pretrain-encoder``: pre-train a Chronos-T5 on unlabelled motion windows (Chronos objective).

Every single-channel series of a prepared dataset's Stage-2 windows is one training series: its first
``context_length`` samples are the context, the next ``prediction_length`` the target. Both are tokenised
by Chronos' own ``MeanScaleUniformBins`` (``ChronosConfig.create_tokenizer()``: ``x / mean|context|``, uniform
bins, EOS appended; the target is scaled with the *context's* scale), and a ``T5ForConditionalGeneration``
learns the target ids with cross-entropy (teacher forcing). Labels are never read.

Read it top to bottom: setup → data → model (fresh or resumed) → for each step: batch → loss →
clip → step → log → periodic validation (mean CE per target token on the validation split; the best
model is published) / checkpoint → final save. Output layout::

    <out_dir>/config.yaml            the resolved config
    <out_dir>/model/                 best-validation model: config.json (+ chronos_config,
                                     sensorllm_tokenizer, sensorllm_pretrain) + model.safetensors;
                                     loads with ChronosPipeline.from_pretrained and as
                                     encoder {kind: chronos, pretrained: DIR}
    <out_dir>/checkpoints/step-NNNNNN/{model/, optimizer.safetensors, trainer_state.json, checksums.json}
    <out_dir>/checkpoints/latest     name of the newest complete checkpoint
    <out_dir>/train_log.csv, val_log.csv, pretrain_summary.json

Checkpoints are written to a temporary directory and renamed into place, with SHA-256 checksums; a resumed
run restores model, optimiser, scheduler, RNG and step, and sees the same batches an uninterrupted run would.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from sensorllm.datasets.prepared import PreparedDataset, open_prepared
from sensorllm.model.encoder import CHRONOS_T5_SIZES, TOKENIZER_RECORD_KEY, ChronosSize, chronos_t5_config
from sensorllm.model.prompts import IGNORE_INDEX
from sensorllm.model.tokenizer import TokenizerConfig
from sensorllm.utils import resolve_device

from .config import ConfigError, config_to_dict, config_to_yaml
from .loop import CsvLogger, micro_batch_indices
from .state import CorruptCheckpoint, _optimizer_from_flat, save_training_state, verify_checksums

__all__ = [
    "PretrainDataConfig",
    "PretrainEncoderConfig",
    "PretrainModelConfig",
    "PretrainOptimConfig",
    "PretrainRunConfig",
    "TokenisedSeries",
    "motion_series",
    "run_pretrain",
    "tokenise_series",
    "validation_loss",
]

_CKPTS = "checkpoints"


# ---- config -------------------------------------------------------------------------------------------


@dataclass
class PretrainDataConfig:
    """Which unlabelled windows to learn from."""

    prepared: str = ""  # directory written by `sensorllm prepare`
    train_split: str = "train"
    val_split: str = "val"  # validation loss on its windows ("" or an empty split: no validation)
    channels: tuple[str, ...] = ()  # channel names to use (empty = all)
    max_train_series: int | None = None  # seeded subset of single-channel series (None = all)
    max_val_series: int | None = 2048  # seeded subset for validation (bounds its cost)


@dataclass
class PretrainModelConfig:
    """The Chronos-T5 being trained and its tokeniser (MeanScaleUniformBins, the Chronos objective)."""

    size: ChronosSize = "tiny"
    seed: int = 0  # initialisation seed
    n_tokens: int = 4096  # vocabulary: pad + EOS + bins + one spare, as Chronos
    low_limit: float = -15.0  # bin range in mean-scaled units
    high_limit: float = 15.0
    context_length: int | None = None  # context samples per window (None = window - prediction_length)
    prediction_length: int = 32  # target samples after the context
    model_context_length: int = 512  # longest series the saved model declares it reads (SensorLLM windows)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.size not in CHRONOS_T5_SIZES:
            raise ConfigError(f"model.size={self.size!r}; valid: {', '.join(CHRONOS_T5_SIZES)}")
        if self.prediction_length < 1 or (self.context_length is not None and self.context_length < 1):
            raise ConfigError("model.context_length and model.prediction_length must be ≥ 1")
        if self.context_length is not None and self.context_length > self.model_context_length:
            raise ConfigError(
                f"model.context_length={self.context_length} exceeds model.model_context_length="
                f"{self.model_context_length}"
            )

    def tokenizer(self) -> TokenizerConfig:
        """The tokeniser settings recorded in the saved model (what SensorLLM will read series with)."""
        return TokenizerConfig(
            kind="mean_scale",
            n_tokens=self.n_tokens,
            low_limit=self.low_limit,
            high_limit=self.high_limit,
            context_length=self.model_context_length,
        )


@dataclass
class PretrainOptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    schedule: Literal["cosine", "linear", "constant"] = "linear"  # Chronos trains with a linear decay
    max_steps: int = 2000
    batch_size: int = 64  # single-channel series per step
    grad_clip: float = 1.0


@dataclass
class PretrainRunConfig:
    out_dir: str = "runs/pretrain-encoder"
    seed: int = 0  # data order and subsets
    log_every: int = 10
    eval_every: int = 200  # steps between validation runs (the best model is published to out_dir/model)
    eval_at_start: bool = True  # validate the untrained model too (the curve's first point)
    save_every: int = 200  # steps between checkpoints
    keep_checkpoints: int = 2
    resume: bool = True  # continue from the last valid checkpoint in out_dir
    threads: int | None = None  # torch CPU threads (None = torch default)
    max_time_s: float | None = None  # stop after this much training time (then save, validate, publish)
    device: str = "auto"  # "auto" = cuda when available, else cpu


@dataclass
class PretrainEncoderConfig:
    """``sensorllm pretrain-encoder``: data, model, optimisation and run settings."""

    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)
    run: PretrainRunConfig = field(default_factory=PretrainRunConfig)


# ---- data ---------------------------------------------------------------------------------------------


def motion_series(
    data: PreparedDataset, split: str, channels: tuple[str, ...], length: int, limit: int | None, seed: int
) -> torch.Tensor:
    """The first ``length`` samples of every selected channel of every Stage-2 window of ``split``.

    Returns:
        ``(N_windows · C, length)`` float32 (channel-major within a window), optionally a seeded subset of
        ``limit`` rows. Rows whose samples are all missing are dropped.

    Raises:
        ValueError: unknown channel names, or windows shorter than ``length``.
    """
    names = data.channel_names
    unknown = [c for c in channels if c not in names]
    if unknown:
        raise ValueError(f"unknown channel(s) {unknown} in data.channels; {data.root} has {names}")
    cols = [names.index(c) for c in channels] if channels else list(range(len(names)))
    windows = data.stage2(split).windows  # (N, L, C) memory-mapped
    if windows.shape[1] < length:
        raise ValueError(
            f"{data.root} {split} windows have {windows.shape[1]} samples; context + prediction needs "
            f"{length} (lower model.context_length / model.prediction_length)"
        )
    x = np.asarray(windows[:, :length, cols], dtype=np.float32)  # (N, length, c)
    rows = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1).reshape(-1, length)))
    rows = rows[torch.isfinite(rows).any(dim=1)]
    if limit is not None and rows.shape[0] > limit:
        pick = np.sort(np.random.default_rng([seed, 17]).choice(rows.shape[0], size=limit, replace=False))
        rows = rows[torch.from_numpy(pick)]
    return rows


@dataclass
class TokenisedSeries:
    """Chronos inputs: ``input_ids``/``attention_mask`` ``(N, ctx + 1)``, ``labels`` ``(N, pred + 1)``
    (−100 = missing target sample)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def take(self, idx: np.ndarray | torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        i = torch.as_tensor(idx, dtype=torch.long)
        return {
            "input_ids": self.input_ids[i].to(device),
            "attention_mask": self.attention_mask[i].to(device),
            "labels": self.labels[i].to(device),
        }


def tokenise_series(series: torch.Tensor, context_length: int, chronos_tokenizer) -> TokenisedSeries:
    """Split ``(N, ctx + pred)`` series into context and target and tokenise them as Chronos trains.

    The target is scaled by the context's ``mean|x|`` (``label_input_transform(target, scale)``), so the
    model must predict the next values' level relative to the context, as in Chronos. Rows whose target
    is entirely missing are dropped (they carry no loss).
    """
    context, target = series[:, :context_length], series[:, context_length:]
    chunks: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for k in range(0, series.shape[0], 4096):
        ids, mask, scale = chronos_tokenizer.context_input_transform(context[k : k + 4096])
        labels, label_mask = chronos_tokenizer.label_input_transform(target[k : k + 4096], scale)
        labels = labels.clone()
        labels[~label_mask] = IGNORE_INDEX
        chunks.append((ids, mask, labels))
    ids, mask, labels = (torch.cat([c[j] for c in chunks]) for j in range(3))
    keep = (labels[:, :-1] != IGNORE_INDEX).any(dim=1)  # the last column is EOS
    return TokenisedSeries(ids[keep].long(), mask[keep].long(), labels[keep].long())


# ---- model, loss ----------------------------------------------------------------------------------------


def _new_model(cfg: PretrainEncoderConfig, provenance: dict):
    from transformers import T5ForConditionalGeneration

    m = cfg.model
    t5_cfg = chronos_t5_config(
        m.size,
        m.tokenizer(),
        prediction_length=m.prediction_length,
        dropout=m.dropout,
        **{TOKENIZER_RECORD_KEY: dict(vars(m.tokenizer())), "sensorllm_pretrain": provenance},
    )
    torch.manual_seed(m.seed)
    return T5ForConditionalGeneration(t5_cfg)


def _loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over target tokens and their count."""
    logits = model(**batch).logits  # (B, pred + 1, V); T5 shifts the labels right itself
    labels = batch["labels"]
    flat = logits.float().reshape(-1, logits.shape[-1])
    loss = F.cross_entropy(flat, labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    return loss, int((labels != IGNORE_INDEX).sum())


@torch.no_grad()
def validation_loss(model, data: TokenisedSeries, batch_size: int, device: torch.device) -> float:
    """Mean cross-entropy per target token (nats) over ``data``, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for k in range(0, len(data), batch_size):
        s, n = _loss_sum(model, data.take(np.arange(k, min(k + batch_size, len(data))), device))
        total, count = total + float(s), count + n
    model.train(was_training)
    return total / max(count, 1)


# ---- checkpoints ------------------------------------------------------------------------------------------


def _save_model_dir(model, path: Path) -> None:
    """``save_pretrained`` into ``path`` through a temporary sibling directory and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def _latest_valid_checkpoint(out: Path) -> Path | None:
    """Newest checkpoint whose checksums verify; corrupt ones are reported and skipped."""
    root = out / _CKPTS
    for ckpt in sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True) if root.is_dir() else []:
        try:
            verify_checksums(ckpt)
            return ckpt
        except CorruptCheckpoint as exc:
            warnings.warn(f"skipping checkpoint {ckpt}: {exc}", stacklevel=2)
    return None


def _check_resumed_config(saved: dict, current: dict, ckpt: Path) -> None:
    """A resumed run must train the same model on the same data; other differences: the current config
    wins (printed)."""
    for section in ("model", "data"):
        if saved.get(section) != current[section]:
            raise ValueError(
                f"{ckpt} was trained with {section}={saved.get(section)}, the config now says "
                f"{current[section]}; use another run.out_dir or run.resume=false"
            )
    for section in ("optim", "run"):
        diff = {k: (saved.get(section, {}).get(k), v) for k, v in current[section].items()
                if saved.get(section, {}).get(k) != v}
        if diff:
            print(f"note: resuming with changed {section} settings (checkpoint → now; now wins): {diff}",
                  flush=True)


# ---- the program ------------------------------------------------------------------------------------------


def _setup(cfg: PretrainEncoderConfig) -> tuple[Path, torch.device]:
    """Threads, output directory, the resolved config (printed and written), the device."""
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    out = Path(cfg.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = config_to_yaml(cfg)
    print(f"== sensorllm pretrain-encoder ==\n{text}", flush=True)
    (out / "config.yaml").write_text(text)
    return out, resolve_device(cfg.run.device)


@dataclass
class _Data:
    dataset: PreparedDataset
    train: TokenisedSeries
    val: TokenisedSeries | None
    context_length: int


def _load_data(cfg: PretrainEncoderConfig) -> _Data:
    """Tokenised train and validation series (validation ``None`` when the split has no windows)."""
    from chronos import ChronosConfig

    from sensorllm.model.tokenizer import chronos_config_dict

    if not cfg.data.prepared:
        raise ValueError("data.prepared is not set: point it at a directory written by `sensorllm prepare`")
    data = open_prepared(cfg.data.prepared)
    window = int(data.stage2(cfg.data.train_split).windows.shape[1])
    m = cfg.model
    ctx = m.context_length if m.context_length is not None else window - m.prediction_length
    if ctx < 1:
        raise ValueError(
            f"windows of {window} samples leave no context before {m.prediction_length} target samples"
        )
    chronos_cfg = ChronosConfig(**chronos_config_dict(m.tokenizer(), prediction_length=m.prediction_length))
    tok = chronos_cfg.create_tokenizer()

    def series(split: str, limit: int | None) -> TokenisedSeries:
        rows = motion_series(data, split, cfg.data.channels, ctx + m.prediction_length, limit, cfg.run.seed)
        return tokenise_series(rows, ctx, tok)

    train = series(cfg.data.train_split, cfg.data.max_train_series)
    if len(train) == 0:
        raise ValueError(f"{data.root} {cfg.data.train_split}: no series with observed target samples")
    val = None
    if cfg.data.val_split and cfg.data.val_split in data.splits():
        val = series(cfg.data.val_split, cfg.data.max_val_series)
    else:
        print(f"note: {data.root} has no '{cfg.data.val_split}' windows: no validation, the final model is "
              "published", flush=True)
    return _Data(data, train, val, ctx)


class _PretrainRun:
    """Model, optimiser, scheduler and the run state of one (possibly resumed) pre-training run.

    ``state``: ``step``, ``best_val_loss``, ``best_step``, ``val_curve`` (``[[step, loss], …]``) and the
    resolved ``config`` (stored in every checkpoint to check a resume against).
    """

    def __init__(self, cfg: PretrainEncoderConfig, out: Path, device: torch.device, data: _Data) -> None:
        from transformers import T5ForConditionalGeneration, get_scheduler

        self.cfg, self.out, self.device, self.data = cfg, out, device, data
        current = json.loads(json.dumps(config_to_dict(cfg)))
        ds = data.dataset
        self.provenance = {
            "dataset": ds.name, "prepared": str(ds.root), "split": cfg.data.train_split,
            "channels": list(cfg.data.channels) or ds.channel_names, "context_length": data.context_length,
            "prediction_length": cfg.model.prediction_length,
            "objective": "chronos (MeanScaleUniformBins cross-entropy)",
        }
        ckpt = _latest_valid_checkpoint(out) if cfg.run.resume else None
        saved = json.loads((ckpt / "trainer_state.json").read_text()) if ckpt is not None else None
        if saved is not None:
            _check_resumed_config(saved["config"], current, ckpt)
            self.model = T5ForConditionalGeneration.from_pretrained(ckpt / "model", dtype=torch.float32)
        else:
            self.model = _new_model(cfg, self.provenance)
        self.model.to(device).train()
        o = cfg.optim
        params = list(self.model.parameters())
        groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": o.weight_decay},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        self.opt = torch.optim.AdamW(groups, lr=o.lr)
        self.sched = get_scheduler(o.schedule, self.opt, num_warmup_steps=int(o.warmup_ratio * o.max_steps),
                                   num_training_steps=o.max_steps)
        # train_time_s: training seconds before this process (a resumed run's clock carries on)
        self.state: dict[str, Any] = {"step": 0, "best_val_loss": None, "best_step": None, "val_curve": [],
                                      "config": current, "train_time_s": 0.0}
        self.resumed_from: int | None = None
        if saved is not None:
            _optimizer_from_flat(self.opt, load_file(str(ckpt / "optimizer.safetensors")), saved["optimizer"])
            self.sched.load_state_dict(saved["scheduler"])
            torch.set_rng_state(torch.tensor(saved["torch_rng"], dtype=torch.uint8))
            self.state.update({k: saved[k] for k in ("step", "best_val_loss", "best_step", "val_curve")})
            self.state["train_time_s"] = float(saved.get("train_time_s", 0.0))  # absent in older checkpoints
            self.resumed_from = int(saved["step"])
            print(f"resumed from {ckpt} (step {self.resumed_from})", flush=True)

    def train_step(self) -> float:
        """One optimiser step on the seeded batch of the current step; returns its mean token loss."""
        o = self.cfg.optim
        idx = micro_batch_indices(len(self.data.train), o.batch_size, self.cfg.run.seed, self.state["step"])
        loss_sum, count = _loss_sum(self.model, self.data.train.take(idx, self.device))
        loss = loss_sum / max(count, 1)
        loss.backward()
        if o.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        self.state["step"] += 1
        return float(loss.detach())

    def validate(self, vlog: CsvLogger) -> None:
        """Validation loss at the current step; publishes ``<out>/model`` when it is the best so far."""
        if self.data.val is None:
            return
        step = self.state["step"]
        loss = validation_loss(self.model, self.data.val, 2 * self.cfg.optim.batch_size, self.device)
        self.state["val_curve"].append([step, loss])
        vlog.log({"step": step, "val_loss": loss})
        print(f"step {step}: validation loss {loss:.4f}", flush=True)
        if self.state["best_val_loss"] is None or loss < self.state["best_val_loss"]:
            self.state["best_val_loss"], self.state["best_step"] = loss, step
            self.publish(loss)

    def publish(self, val_loss: float | None) -> None:
        """Write the current model to ``<out>/model`` (atomically), with its provenance in config.json."""
        self.model.config.sensorllm_pretrain = {**self.provenance, "step": self.state["step"],
                                                "val_loss": val_loss}
        _save_model_dir(self.model, self.out / "model")

    def save(self) -> None:
        save_training_state(self.out, self.model, self.opt, self.sched, self.state, {},
                            keep=self.cfg.run.keep_checkpoints,
                            write_model=lambda d: self.model.save_pretrained(d, safe_serialization=True))


def _train(run: _PretrainRun) -> tuple[float, bool]:
    """The step loop with logging, validation and checkpoints; returns (training seconds, stopped by time).

    The seconds include earlier sittings of a resumed run; ``run.max_time_s`` budgets this sitting alone."""
    cfg, o = run.cfg, run.cfg.optim
    log = CsvLogger(run.out / "train_log.csv", ["step", "loss", "lr", "series_per_s", "elapsed_s"])
    vlog = CsvLogger(run.out / "val_log.csv", ["step", "val_loss"])
    if run.state["step"] == 0 and cfg.run.eval_at_start and not run.state["val_curve"]:
        run.validate(vlog)
    t0 = t_last = time.time()
    before = run.state["train_time_s"]
    running, n_run, stopped = 0.0, 0, False
    while run.state["step"] < o.max_steps:
        running, n_run = running + run.train_step(), n_run + 1
        step = run.state["step"]
        if step % cfg.run.log_every == 0 or step == o.max_steps:
            rate = n_run * o.batch_size / max(time.time() - t_last, 1e-9)
            log.log({"step": step, "loss": running / n_run, "lr": run.sched.get_last_lr()[0],
                     "series_per_s": rate, "elapsed_s": before + time.time() - t0})
            print(f"step {step}: train loss {running / n_run:.4f} ({rate:.0f} series/s)", flush=True)
            t_last, running, n_run = time.time(), 0.0, 0
        stopped = cfg.run.max_time_s is not None and time.time() - t0 > cfg.run.max_time_s
        last = step == o.max_steps or stopped
        if step % cfg.run.eval_every == 0 or last:
            run.validate(vlog)
        if step % cfg.run.save_every == 0 or last:
            run.state["train_time_s"] = before + time.time() - t0
            run.save()
        if stopped:
            print(f"stopping at step {step}: run.max_time_s={cfg.run.max_time_s:g} s used", flush=True)
            break
    log.close()
    vlog.close()
    return before + time.time() - t0, stopped


def run_pretrain(cfg: PretrainEncoderConfig) -> dict[str, Any]:
    """Pre-train (or resume) and publish ``<out_dir>/model``; returns the summary written next to it."""
    out, device = _setup(cfg)
    data = _load_data(cfg)
    m = cfg.model
    n_bins = m.n_tokens - 3
    n_val = 0 if data.val is None else len(data.val)
    print(f"series: {len(data.train)} train / {n_val} val ({data.dataset.name}, context "
          f"{data.context_length} + target {m.prediction_length} samples); uniform-guess loss "
          f"ln({n_bins}) = {math.log(n_bins):.3f}", flush=True)
    run = _PretrainRun(cfg, out, device, data)
    n_params = sum(p.numel() for p in run.model.parameters())
    o = cfg.optim
    print(f"training Chronos-T5-{m.size} ({n_params:,} parameters) on {device} for {o.max_steps} steps "
          f"(from {run.state['step']}), batch {o.batch_size}, lr {o.lr:g} {o.schedule}", flush=True)
    seconds, stopped = _train(run)
    if data.val is None or not (out / "model").is_dir():  # no validation: publish the final model
        run.publish(None)
    st = run.state
    summary = {
        "steps": st["step"], "max_steps": cfg.optim.max_steps, "stopped_by_time_budget": stopped,
        "best_val_loss": st["best_val_loss"], "best_step": st["best_step"], "val_curve": st["val_curve"],
        "uniform_guess_loss": math.log(n_bins), "train_series": len(data.train), "val_series": n_val,
        "context_length": data.context_length, "prediction_length": m.prediction_length,
        "train_time_s": seconds, "resumed_from": run.resumed_from, "model_dir": str(out / "model"),
    }
    tmp = out / "pretrain_summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out / "pretrain_summary.json")
    print(f"best validation loss {st['best_val_loss']} at step {st['best_step']}; model in {out / 'model'}",
          flush=True)
    return summary
