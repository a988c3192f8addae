"""The ``sensorllm pretrain-encoder`` program: setup → data → model (fresh or resumed) → the step loop
with logging, validation (the best model is published) and checkpoints → summary. :func:`run_pretrain` is
the entry point; the package docstring has the output layout."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from sensorllm.train.config import config_to_dict, config_to_yaml
from sensorllm.train.loop import CsvLogger, micro_batch_indices
from sensorllm.train.state import optimizer_from_flat, read_trainer_state, save_training_state
from sensorllm.utils import resolve_device

from .checkpoints import check_resumed_config, latest_valid_checkpoint, save_model_dir
from .config import PretrainEncoderConfig
from .data import PretrainData, load_data
from .objective import loss_sum, new_model, validation_loss

__all__ = ["run_pretrain"]

PRETRAIN_STATE_KEYS = ("config", "step", "best_val_loss", "best_step", "val_curve", "optimizer", "scheduler",
                       "torch_rng", "train_time_s")
"""What a resumed ``pretrain-encoder`` run reads from a checkpoint's ``trainer_state.json``."""


def _setup(cfg: PretrainEncoderConfig) -> tuple[Path, torch.device]:
    """Threads, output directory, the resolved config (written; one line says where), the device."""
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    out = Path(cfg.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = config_to_yaml(cfg)
    (out / "config.yaml").write_text(text)
    print(f"== sensorllm pretrain-encoder: {out} (configuration: {out / 'config.yaml'}) ==", flush=True)
    return out, resolve_device(cfg.run.device)


class _PretrainRun:
    """Model, optimiser, scheduler and the run state of one (possibly resumed) pre-training run.

    ``state``: ``step``, ``best_val_loss``, ``best_step``, ``val_curve`` (``[[step, loss], …]``) and the
    resolved ``config`` (stored in every checkpoint to check a resume against).
    """

    def __init__(
        self, cfg: PretrainEncoderConfig, out: Path, device: torch.device, data: PretrainData
    ) -> None:
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
        if cfg.data.sources:  # what each source gave (the validation split stays `dataset`'s)
            self.provenance.update(split=None, val_split=cfg.data.val_split, sources=[
                {k: v for k, v in i.items() if k != "held_out_subjects"} for i in data.sources])
        ckpt = latest_valid_checkpoint(out) if cfg.run.resume else None
        saved = read_trainer_state(ckpt, PRETRAIN_STATE_KEYS) if ckpt is not None else None
        if saved is not None:
            defaults = json.loads(json.dumps(config_to_dict(PretrainEncoderConfig())))
            check_resumed_config(saved["config"], current, ckpt, defaults)
            self.model = T5ForConditionalGeneration.from_pretrained(ckpt / "model", dtype=torch.float32)
        else:
            self.model = new_model(cfg, self.provenance)
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
            optimizer_from_flat(self.opt, load_file(str(ckpt / "optimizer.safetensors")), saved["optimizer"])
            self.sched.load_state_dict(saved["scheduler"])
            torch.set_rng_state(torch.tensor(saved["torch_rng"], dtype=torch.uint8))
            self.state.update({k: saved[k] for k in ("step", "best_val_loss", "best_step", "val_curve")})
            self.state["train_time_s"] = float(saved["train_time_s"])
            self.resumed_from = int(saved["step"])
            print(f"resumed from {ckpt} (step {self.resumed_from})", flush=True)

    def train_step(self) -> float:
        """One optimiser step on the seeded batch of the current step; returns its mean token loss."""
        o = self.cfg.optim
        idx = micro_batch_indices(len(self.data.train), o.batch_size, self.cfg.run.seed, self.state["step"])
        loss_total, count = loss_sum(self.model, self.data.train.take(idx, self.device))
        loss = loss_total / max(count, 1)
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
        save_model_dir(self.model, self.out / "model")

    def snapshot(self) -> None:
        """Every ``run.snapshot_every`` steps (and at step 0): the model alone (no optimiser) in
        ``<out>/snapshots/step-NNNNNN``, never pruned (the points of a probe curve). An existing snapshot is
        kept: a resumed run recomputes the same weights."""
        every, step = self.cfg.run.snapshot_every, self.state["step"]
        if not every or step % every:
            return
        path = self.out / "snapshots" / f"step-{step:06d}"
        if path.is_dir():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        curve = dict((int(s), v) for s, v in self.state["val_curve"])
        self.model.config.sensorllm_pretrain = {**self.provenance, "step": step, "val_loss": curve.get(step)}
        save_model_dir(self.model, path)

    def patience_used(self) -> bool:
        """Whether the last ``run.patience`` validations brought no better validation loss."""
        p, curve, best = self.cfg.run.patience, self.state["val_curve"], self.state["best_step"]
        if not p or best is None:
            return False
        return sum(1 for s, _ in curve if s > best) >= p

    def save(self) -> None:
        save_training_state(self.out, self.model, self.opt, self.sched, self.state, {},
                            keep=self.cfg.run.keep_checkpoints,
                            write_model=lambda d: self.model.save_pretrained(d, safe_serialization=True))


def _train(run: _PretrainRun) -> tuple[float, bool]:
    """The step loop with logging, validation, snapshots and checkpoints; returns (training seconds, stopped
    by time). It also ends when ``run.patience`` validations in a row bring no better loss.

    The seconds include earlier sittings of a resumed run; ``run.max_time_s`` budgets this sitting alone."""
    cfg, o = run.cfg, run.cfg.optim
    log = CsvLogger(run.out / "train_log.csv", ["step", "loss", "lr", "series_per_s", "elapsed_s"])
    vlog = CsvLogger(run.out / "val_log.csv", ["step", "val_loss"])
    if run.state["step"] == 0 and cfg.run.eval_at_start and not run.state["val_curve"]:
        run.validate(vlog)
    if run.state["step"] == 0:
        run.snapshot()
    t0 = t_last = time.time()
    before = run.state["train_time_s"]
    running, n_run, stopped = 0.0, 0, False
    if run.patience_used():
        print(f"not training: run.patience={cfg.run.patience} validations without a better loss since step "
              f"{run.state['best_step']}", flush=True)
    while run.state["step"] < o.max_steps and not run.patience_used():
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
            if run.patience_used():
                print(f"stopping at step {step}: no better validation loss in {cfg.run.patience} validations "
                      f"(best {run.state['best_val_loss']:.4f} at step {run.state['best_step']})", flush=True)
                last = True
        run.snapshot()
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
    data = load_data(cfg)
    m = cfg.model
    n_bins = m.n_tokens - 3
    n_val = 0 if data.val is None else len(data.val)
    print(f"series: {len(data.train)} train / {n_val} val (validation: {data.dataset.name}, context "
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
        "stopped_by_patience": run.patience_used(),
        "best_val_loss": st["best_val_loss"], "best_step": st["best_step"], "val_curve": st["val_curve"],
        "uniform_guess_loss": math.log(n_bins), "train_series": len(data.train), "val_series": n_val,
        "context_length": data.context_length, "prediction_length": m.prediction_length,
        "train_time_s": seconds, "resumed_from": run.resumed_from, "model_dir": str(out / "model"),
        "sources": data.sources,
    }
    tmp = out / "pretrain_summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out / "pretrain_summary.json")
    print(f"best validation loss {st['best_val_loss']} at step {st['best_step']}; model in {out / 'model'}",
          flush=True)
    return summary
