"""The shared training loop of both stages (accelerate; one CPU process here, DDP/FSDP/DeepSpeed on GPUs via
``accelerate launch``).

Read it top to bottom: setup → (resume) → for each optimiser step: gradient-accumulated micro-batches →
clip → step → log → periodic validation / checkpoint → final save. The stage programs (``align``, ``tune``)
supply how to build a batch, the loss, and (Stage 2) the validation metric.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from .config import OptimConfig, RunConfig
from .state import load_latest_training_state, save_training_state

__all__ = ["LoopResult", "build_scheduler", "encoder_lr_factor", "train_loop", "epoch_order", "micro_batch_indices",
           "MicroBatches", "CsvLogger"]


@dataclass
class LoopResult:
    steps: int
    best_metric: float | None
    best_step: int | None
    train_time_s: float
    resumed_from: int | None
    device: str = "cpu"
    peak_gpu_mem_gib: float | None = None  # torch.cuda.max_memory_allocated over the run (None on the CPU)
    last_log: dict | None = None  # the last train_log.csv row (loss and learning diagnostics)


# Learning diagnostics in train_log.csv (each logged step): the global gradient norm before clipping, the
# update/parameter norm ratio of each trained part over that step, the RMS of the text-token embeddings and of
# the projected sensor tokens (and of their token-to-token varying part) of the last micro-batch, and the
# spread of the head's logits across the batch's windows against across classes (Stage 2).
DIAG_FIELDS = ["grad_norm", "upd_projector", "upd_token_rows", "upd_head", "upd_lora", "upd_encoder",
               "text_rms", "sensor_rms", "sensor_rms_varying", "logit_std_windows", "logit_std_classes"]


def encoder_lr_factor(step: int, freeze_steps: int, warmup_steps: int) -> float:
    """The factor on a trainable encoder's scheduled learning rate at optimiser step ``step`` (0-based): 0 while
    ``step < freeze_steps``, then a linear ramp to 1 over ``warmup_steps`` steps."""
    if step < freeze_steps:
        return 0.0
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step - freeze_steps + 1) / warmup_steps)


class _NoLog:
    """Stands in for a :class:`CsvLogger` on the processes that write no logs (all but the main one)."""

    def log(self, row: dict) -> None:
        pass

    def close(self) -> None:
        pass


class CsvLogger:
    """Appends rows to a CSV file (header written once; a resumed run appends to its log); optional TensorBoard
    mirror.

    Raises:
        ValueError: ``path`` exists with other columns than ``fields`` (rows would land under the wrong
            header).
    """

    def __init__(self, path: Path, fields: Sequence[str], tensorboard_dir: Path | None = None):
        self.path, self.fields = path, list(fields)
        new = not path.exists() or path.stat().st_size == 0
        if not new:
            with open(path, newline="") as fh:
                header = next(csv.reader(fh), None)
            if header is not None and header != self.fields:
                raise ValueError(f"{path} has the columns {', '.join(header)}; this run writes "
                                 f"{', '.join(self.fields)}: move it aside or use another run.out_dir")
        self.fh = open(path, "a", newline="")
        self.w = csv.DictWriter(self.fh, fieldnames=self.fields)
        if new:
            self.w.writeheader()
        self.tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # pragma: no cover - optional dependency
                raise ImportError("run.tensorboard=true needs `pip install tensorboard`") from exc
            self.tb = SummaryWriter(str(tensorboard_dir))

    def log(self, row: dict) -> None:
        self.w.writerow({k: row.get(k, "") for k in self.fields})
        self.fh.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self.fh.close()
        if self.tb is not None:
            self.tb.close()


def _identity(x: Any) -> Any:
    return x


def epoch_order(n: int, per_micro: int, seed: int, epoch: int, lengths: np.ndarray | None = None,
                group: int = 32) -> np.ndarray:
    """The order in which one epoch visits ``range(n)``.

    A seeded permutation. With ``lengths`` (tokens per example) examples are grouped by length so that a
    micro-batch holds sequences of similar length and little padding: the permutation is cut into chunks of
    ``group`` micro-batches, each chunk is sorted by length, cut into micro-batches, and the micro-batches of the
    whole epoch are shuffled again (so long and short batches alternate at random, not in one sweep).
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    if lengths is None:
        return perm
    lengths = np.asarray(lengths)
    if lengths.shape != (n,):
        raise ValueError(f"lengths has shape {lengths.shape}, expected ({n},)")
    chunk = per_micro * group
    parts = [c[np.argsort(-lengths[c], kind="stable")] for c in np.split(perm, range(chunk, n, chunk))]
    order = np.concatenate(parts)
    nb = n // per_micro
    blocks = order[: nb * per_micro].reshape(nb, per_micro)[np.random.default_rng([seed, epoch, 1]).permutation(nb)]
    return np.concatenate([blocks.ravel(), order[nb * per_micro :]])


def micro_batch_indices(n: int, batch_size: int, seed: int, micro: int, rank: int = 0, world: int = 1,
                        lengths: np.ndarray | None = None) -> np.ndarray:
    """Example indices of global micro-batch ``micro`` for process ``rank``.

    Each epoch is :func:`epoch_order` of ``range(n)``; micro-batches walk through it, so a resumed run
    continues with exactly the batches an uninterrupted one would have used.
    """
    per_micro = batch_size * world
    per_epoch = max(1, n // per_micro)
    epoch, pos = divmod(micro, per_epoch)
    order = epoch_order(n, per_micro, seed, epoch, lengths)
    start = pos * per_micro + rank * batch_size
    return order[start : start + batch_size]


class MicroBatches(torch.utils.data.Dataset):
    """Micro-batches ``first, first+1, …`` of a run as a dataset, so a ``DataLoader`` can build them ahead of
    the training step in worker processes (``run.num_workers``). Item ``j`` is ``(idx, make_batch(idx))`` for
    the example indices ``idx`` of micro-batch ``first + j``: the same batches in the same order for any
    number of workers."""

    def __init__(self, make_batch: Callable[[np.ndarray], Any], n_examples: int, batch_size: int, seed: int,
                 first: int, count: int, rank: int, world: int, lengths: np.ndarray | None) -> None:
        self.make_batch, self.n, self.bs, self.seed = make_batch, n_examples, batch_size, seed
        self.first, self.count, self.rank, self.world, self.lengths = first, count, rank, world, lengths

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, j: int) -> tuple[np.ndarray, Any]:
        idx = micro_batch_indices(self.n, self.bs, self.seed, self.first + j, self.rank, self.world, self.lengths)
        return idx, self.make_batch(idx)


def total_steps(n_examples: int, optim: OptimConfig, world: int = 1) -> int:
    if optim.max_steps is not None:
        return optim.max_steps
    per_step = optim.batch_size * optim.grad_accum * world
    return max(1, math.ceil(optim.epochs * n_examples / per_step))


def build_scheduler(opt: torch.optim.Optimizer, optim: OptimConfig, steps: int):
    """The learning-rate schedule of a run of ``steps`` optimiser steps (``transformers.get_scheduler``:
    ``optim.schedule`` after a linear warm-up of :meth:`~sensorllm.train.config.OptimConfig.warmup_steps`
    steps), and that warm-up (the ``constant`` schedule has none: transformers ignores it there)."""
    from transformers import get_scheduler

    warmup = optim.warmup_steps(steps)
    return get_scheduler(optim.schedule, opt, num_warmup_steps=warmup, num_training_steps=steps), warmup


def train_loop(
    *,
    model: torch.nn.Module,
    accelerator,
    n_examples: int,
    make_batch: Callable[[np.ndarray], Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    optim: OptimConfig,
    run: RunConfig,
    out_dir: Path,
    save_extra: Callable[[], dict],
    validate: Callable[[], dict] | None = None,
    metric: str | None = None,
    on_best: Callable[[dict, int], None] | None = None,
    lengths: np.ndarray | None = None,
    progress: Callable[[dict], None] | None = None,
) -> LoopResult:
    """Train ``model`` (its trainable parameters) for ``optim`` steps.

    Args:
        make_batch: example indices → batch for ``loss_fn`` (on the CPU; the loop moves it to the device). With
            ``run.num_workers > 0`` it runs in worker processes, ahead of the step that uses it.
        loss_fn: (prepared model, batch) → scalar loss.
        validate: returns a dict of validation numbers (called every ``run.eval_every`` steps and at the end).
        metric: key of ``validate``'s dict to maximise for model selection (``None`` = no selection).
        on_best: called with (val dict, step) when ``metric`` improves (e.g. to save the best model).
        save_extra: JSON-able info stored with each checkpoint.
        lengths: tokens per example; with ``optim.group_by_length`` micro-batches group similar lengths
            (less padding; see :func:`epoch_order`).
        progress: called on the main process after each logged step with ``{"step", "steps", "elapsed_s",
            "left_s", "loss"}`` (``left_s``: the estimate the step line prints), to report progress elsewhere.

    Several processes (``accelerate launch``): each takes its own ``optim.batch_size`` slice of every global
    micro-batch (:func:`micro_batch_indices` with its rank), ``accelerate`` averages the gradients; only the
    main process writes ``train_log.csv`` / ``val_log.csv`` (the logged loss and examples/s are over all
    processes) and the checkpoints. With ``run.record_batches`` every process appends one JSON line per
    micro-batch it trained on to ``<out_dir>/batches-rank<R>.jsonl``: ``{"step", "micro", "rank", "world",
    "indices"}`` (positions in the stage's training examples), to check the sharding and a resume.
    """
    base = accelerator.unwrap_model(model)
    steps = total_steps(n_examples, optim, accelerator.num_processes)
    encoder_phase = bool(optim.encoder_freeze_steps or optim.encoder_warmup_steps)
    opt = torch.optim.AdamW(base.param_groups(optim.weight_decay, optim.head_lr, optim.encoder_lr, encoder_phase),
                            lr=optim.lr)
    sched, warmup = build_scheduler(opt, optim, steps)
    model, opt = accelerator.prepare(model, opt)
    # train_time_s: training seconds before this process (a resumed run's clock carries on from its checkpoint)
    state = {"step": 0, "best_metric": None, "best_step": None, "train_time_s": 0.0}
    resumed_from = None
    if run.resume:
        got = load_latest_training_state(out_dir, accelerator.unwrap_model(model), opt, sched)
        if got is not None:
            state.update({k: got[k] for k in ("step", "best_metric", "best_step")})
            state["train_time_s"] = float(got["train_time_s"])
            resumed_from = state["step"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    # the values that really train, as the model counts them per part
    parts = base.trainable_summary() if hasattr(base, "trainable_summary") else None
    n_train = (sum(v for k, v in parts.items() if k != "llm_total") if parts is not None
               else sum(p.numel() for p in trainable))
    ramp = "no warm-up" if optim.schedule == "constant" else f"warm-up {warmup} steps"
    print(f"training {steps} steps (from {state['step']}): {n_examples} examples, batch {optim.batch_size} x "
          f"accum {optim.grad_accum} x {accelerator.num_processes} process(es), lr {optim.lr:g} {optim.schedule}, "
          f"{ramp}, {n_train:,} trained parameters", flush=True)
    main = accelerator.is_main_process  # the only process that writes logs and checkpoints
    tb = out_dir / "tensorboard" if run.tensorboard and main else None
    fields = ["step", "loss", "lr", "examples_per_s", "elapsed_s", *DIAG_FIELDS]
    log = CsvLogger(out_dir / "train_log.csv", fields, tb) if main else _NoLog()
    last_row: dict | None = None
    vlog = CsvLogger(out_dir / "val_log.csv", ["step", "loss", "f1_macro", "accuracy"]) if main else _NoLog()
    record = (open(out_dir / f"batches-rank{accelerator.process_index}.jsonl", "a")
              if run.record_batches else None)
    t0 = time.time() - state["train_time_s"]
    bar = tqdm(total=steps, initial=state["step"], desc="train", file=sys.stderr,
               disable=None if main else True)
    model.train()
    running, n_micro, seen, t_last = 0.0, 0, 0, time.time()
    on_gpu = accelerator.device.type == "cuda"
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(accelerator.device)

    def do_validation(step: int) -> None:
        if validate is None:
            return
        model.eval()
        with accelerator.autocast():  # validation in the training's precision (bf16 autocast on a GPU run)
            res = validate()
        model.train()
        vlog.log({"step": step, **res})
        print(f"step {step}: validation " + ", ".join(f"{k} {v:.4f}" for k, v in res.items()
                                                     if isinstance(v, float)), flush=True)
        if metric is not None and (state["best_metric"] is None or res[metric] > state["best_metric"]):
            state["best_metric"], state["best_step"] = float(res[metric]), step
            if on_best is not None and accelerator.is_main_process:
                on_best(res, step)

    first = state["step"] * optim.grad_accum
    if run.num_workers > 0:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # fast tokenizers in forked workers
    micro_batches = iter(torch.utils.data.DataLoader(
        MicroBatches(make_batch, n_examples, optim.batch_size, run.seed, first, steps * optim.grad_accum - first,
                     accelerator.process_index, accelerator.num_processes,
                     lengths if optim.group_by_length else None),
        batch_size=None, shuffle=False, num_workers=run.num_workers, collate_fn=_identity))
    while state["step"] < steps:
        step = state["step"]
        for k in range(optim.grad_accum):
            idx, batch = next(micro_batches)
            loss = loss_fn(model, batch.to(accelerator.device)) / optim.grad_accum
            accelerator.backward(loss)
            running += float(loss.detach()) * optim.grad_accum
            n_micro += 1
            seen += len(idx)
            if record is not None:
                record.write(json.dumps({
                    "step": step + 1, "micro": step * optim.grad_accum + k, "rank": accelerator.process_index,
                    "world": accelerator.num_processes, "indices": [int(i) for i in idx]}) + "\n")
                record.flush()
        clip = optim.grad_clip if optim.grad_clip and optim.grad_clip > 0 else math.inf
        grad_norm = float(accelerator.clip_grad_norm_(trainable, clip))  # the norm before clipping
        logging = (step + 1) % run.log_every == 0 or step + 1 == steps
        before = base.part_vectors() if logging and hasattr(base, "part_vectors") else None
        if encoder_phase:  # the scheduler sets every group's rate after each step; this scales the encoder's
            factor = encoder_lr_factor(step, optim.encoder_freeze_steps, optim.encoder_warmup_steps)
            for g in opt.param_groups:
                if g.get("name") == "encoder":
                    g["lr"] *= factor
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        state["step"] = step = step + 1
        bar.update(1)
        if logging:
            dt = time.time() - t_last
            # over all processes: the mean of their micro-batch losses (the loss whose gradient was averaged)
            running, n_micro, seen = accelerator.reduce(
                torch.tensor([running, n_micro, seen], dtype=torch.float64, device=accelerator.device), "sum"
            ).tolist()
            row = {"step": step, "loss": running / max(1, n_micro),
                   "lr": sched.get_last_lr()[0], "examples_per_s": seen / max(dt, 1e-9),
                   "elapsed_s": time.time() - t0, "grad_norm": grad_norm,
                   **dict(getattr(base, "signal_stats", {}))}
            if before is not None:
                after = base.part_vectors()
                for part, v in before.items():
                    row[f"upd_{part}"] = float((after[part] - v).norm() / v.norm().clamp_min(1e-12))
            log.log(row)
            last_row = row
            rate = row["examples_per_s"]
            per_step = optim.batch_size * optim.grad_accum * accelerator.num_processes
            left = (steps - step) * per_step / max(rate, 1e-9)
            # no progress bar (output is not a terminal): the main process prints a line per logged step
            if bar.disable and main:
                print(f"step {step}/{steps}: loss {row['loss']:.4f}, {rate:.1f} examples/s, "
                      f"about {left / 60:.1f} min left", flush=True)
            if progress is not None and main:
                progress({"step": step, "steps": steps, "elapsed_s": row["elapsed_s"], "left_s": left,
                          "loss": row["loss"]})
            bar.set_postfix(loss=f"{row['loss']:.4f}")
            running, n_micro, seen, t_last = 0.0, 0, 0, time.time()
        if step % run.eval_every == 0 and step != steps:
            do_validation(step)
        if (step % run.save_every == 0 or step == steps) and main:
            state["train_time_s"] = time.time() - t0
            saved = save_training_state(out_dir, accelerator.unwrap_model(model), opt, sched, dict(state),
                                        save_extra(), keep=run.keep_checkpoints)
            print(f"step {step}: wrote checkpoint {saved}", flush=True)
    bar.close()
    if record is not None:
        record.close()
    if resumed_from != steps:  # a finished run that is started again does not validate twice
        do_validation(steps)
    log.close()
    vlog.close()
    peak = torch.cuda.max_memory_allocated(accelerator.device) / 2**30 if on_gpu else None
    device = torch.cuda.get_device_name(accelerator.device) if on_gpu else "cpu"
    return LoopResult(steps, state["best_metric"], state["best_step"], time.time() - t0, resumed_from, device, peak,
                      last_row)
