"""Stage 2 — task-aware tuning (``sensorllm tune``).

Multi-channel windows with their statistics text → last non-pad token → linear head; class-weighted
cross-entropy; model selection on the VALIDATION split by F1-macro (the test split is only touched by
``sensorllm evaluate``). Starts from a Stage-1 checkpoint (``init_from``) or from scratch (the paper's
"without alignment" ablation).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from sensorllm.data import TextSettings, collate_items, stage2_items
from sensorllm.eval.metrics import classification_metrics, write_json_atomic
from sensorllm.infer.artifact import save_model
from sensorllm.infer.stage2 import head_features, predict_proba
from sensorllm.model import class_weights_from_labels, init_from_stage1

from .common import build_model, checkpoint_extra, open_data, publish_model, setup_run
from .config import Stage2Config
from .loop import train_loop

__all__ = ["run_tune"]


def run_tune(cfg: Stage2Config, progress: Callable[[dict], None] | None = None) -> dict:
    """Train Stage 2; writes ``<out_dir>/model`` (best on validation) and ``metrics_val.json``. ``progress``:
    called after each logged training step (:func:`~sensorllm.train.loop.train_loop`)."""
    data = open_data(cfg)
    cfg, out, acc = setup_run(cfg, data, "tune (Stage 2)")  # with the settings taken from the data
    if cfg.data.val_split not in data.splits():
        raise ValueError(f"{data.root} has no '{cfg.data.val_split}' windows: Stage 2 selects its model on a "
                         "validation split (prepare without --paper-split, or set data.val_split)")
    model = build_model(cfg, data, labels=True)
    t = time.time()
    text = TextSettings(cfg.data.preprocess_type, cfg.data.trend_mode, cfg.data.stat_digits, cfg.run.seed,
                        model.encoder.normalizes_series)
    train = stage2_items(data, cfg.data.train_split, text, cfg.data.max_train_examples, channels=model.channels)
    val = stage2_items(data, cfg.data.val_split, text, cfg.data.max_val_examples, channels=model.channels)
    print(f"texts: {len(train)} train / {len(val)} val windows in {time.time() - t:.1f}s", flush=True)
    if cfg.init_from:
        parts = init_from_stage1(model, cfg.init_from)
        print(f"initialised from Stage 1 {cfg.init_from}: {', '.join(parts)}")
    pick = np.random.default_rng([cfg.run.seed, 47]).permutation(len(train))[: cfg.head_stats_windows]
    calib = list(torch.from_numpy(train.series[pick].reshape(-1, train.series.shape[2])))  # (P·C) series
    if model.encoder.calibrate(calib):  # batch-norm statistics of a trainable encoder, before the head's
        print(f"encoder statistics calibrated on {len(pick)} training windows", flush=True)
    if cfg.model.head_standardize:  # (a resumed run then restores the statistics saved with its checkpoint)
        t = time.time()
        model.to(acc.device)
        with acc.autocast():  # the features as training computes them (bf16 autocast in a bf16 run)
            feats = head_features(model, train[pick], 2 * cfg.optim.batch_size)
        model.set_head_statistics(feats)
        print(f"head standardisation: per-feature mean/std of the last-token states of {len(pick)} training "
              f"windows ({time.time() - t:.0f}s)", flush=True)
    # Paper: Stage 2 trains projector + head; without Stage 1 the new token rows train too.
    rows = cfg.init_from is None if cfg.train_token_rows is None else cfg.train_token_rows
    model.set_trainable(projector=True, head=True, token_rows=rows)
    print("trainable:", model.trainable_summary(), flush=True)
    weights = class_weights_from_labels(train.labels, len(data.class_names)) if cfg.weighted_loss else None

    def make_batch(idx: np.ndarray):
        return collate_items(model.prompts, train[idx])

    def loss_fn(m, batch):
        return m(batch, stage=2, class_weights=weights).loss

    def validate() -> dict:
        probs, loss = predict_proba(model, val, cfg.optim.batch_size, weights)
        m = classification_metrics(val.labels, probs.argmax(1), data.class_names)
        return {"loss": loss, "f1_macro": m["f1_macro"], "accuracy": m["accuracy"], "_metrics": m}

    extra = lambda: checkpoint_extra(cfg, data, "stage2", init_from=cfg.init_from)  # noqa: E731

    def on_best(res: dict, step: int) -> None:
        save_model(model, out / "best.tmp", extra={**extra(), "val": _public(res), "step": step})
        publish_model(out / "best.tmp", out / "model")
        import shutil

        shutil.rmtree(out / "best.tmp", ignore_errors=True)
        write_json_atomic({"step": step, **res["_metrics"], "split": cfg.data.val_split}, out / "metrics_val.json")

    result = train_loop(
        model=model, accelerator=acc, n_examples=len(train), make_batch=make_batch, loss_fn=loss_fn,
        optim=cfg.optim, run=cfg.run, out_dir=out, save_extra=extra, validate=validate, metric=cfg.metric,
        on_best=on_best, progress=progress,
    )
    if not acc.is_main_process:  # the main process alone writes the model and the summary
        return {"stage": 2, "steps": result.steps, "resumed_from": result.resumed_from}
    summary = {
        "stage": 2,
        "steps": result.steps,
        "best_step": result.best_step,
        f"best_val_{cfg.metric}": result.best_metric,
        "train_time_s": result.train_time_s,
        "resumed_from": result.resumed_from,
        "device": result.device,
        "peak_gpu_mem_gib": result.peak_gpu_mem_gib,
        "trainable": model.trainable_summary(),
        "last_train_log": result.last_log,
        "model_dir": str(out / "model"),
    }
    write_json_atomic(summary, out / "train_summary.json")
    print(f"best validation {cfg.metric} {result.best_metric:.4f} at step {result.best_step}; model in {out / 'model'}")
    return summary


def _public(res: dict) -> dict:
    return {k: v for k, v in res.items() if not k.startswith("_")}
