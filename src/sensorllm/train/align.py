"""Stage 1 — sensor-language alignment (``sensorllm align``).

Single-channel windows of random length, each with a trend question and the data-derived answer (segments,
counts, summary). Causal-LM loss on the answer only; the projector and the channel start/end token rows train,
LLM and encoder stay frozen. After training, held-out windows are described greedily and scored (BLEU, ROUGE,
SBERT, and trend-structure agreement parsed from the generated text).
"""

from __future__ import annotations

import json
import time
from typing import Callable

import numpy as np
import torch

from sensorllm.data import Stage1Item, collate, stage1_items
from sensorllm.text import answer_weight_spans
from sensorllm.eval.describe import score_descriptions
from sensorllm.infer.describe import describe_items
from sensorllm.eval.metrics import write_json_atomic

from .common import build_model, checkpoint_extra, open_data, publish_model, setup_run
from .config import Stage1Config
from .loop import train_loop
from .state import has_valid_checkpoint
from .trend_tokens import train_trend_tokens

__all__ = ["run_align"]

CALIBRATION_SERIES = 1024  # training series that set a trainable encoder's batch-norm statistics


def _example(model, it: Stage1Item, answer: str | None, cfg: Stage1Config | None = None):
    spans = answer_weight_spans(answer, cfg.trend_word_weight, cfg.end_time_weight) if answer and cfg else []
    return model.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, answer,
                                       weighted_spans=spans)


def run_align(cfg: Stage1Config, progress: Callable[[dict], None] | None = None) -> dict:
    """Train Stage 1; writes ``<out_dir>/model``, ``metrics.json`` (generation scores) and ``samples.jsonl``.
    ``progress``: called after each logged training step (:func:`~sensorllm.train.loop.train_loop`)."""
    data = open_data(cfg)
    cfg, out, acc = setup_run(cfg, data, "align (Stage 1)")  # with the settings taken from the data
    t = time.time()
    train = stage1_items(data, cfg.data.train_split, cfg.run.seed, cfg.data.trend_mode, cfg.data.max_train_examples)
    has_val = cfg.data.val_split in data.splits()
    val = (stage1_items(data, cfg.data.val_split, cfg.run.seed, cfg.data.trend_mode, cfg.data.max_val_examples)
           if has_val else [])
    print(f"texts: {len(train)} train / {len(val)} val single-channel examples in {time.time() - t:.1f}s", flush=True)

    model = build_model(cfg, data, labels=False)
    pick = np.random.default_rng([cfg.run.seed, 47]).permutation(len(train))[:CALIBRATION_SERIES]
    if model.encoder.calibrate([torch.as_tensor(np.asarray(train[i].series, dtype=np.float32)) for i in pick]):
        print(f"encoder statistics calibrated on {len(pick)} training series", flush=True)
    model.set_trainable(projector=True, head=False, token_rows=cfg.train_token_rows)
    print("trainable:", model.trainable_summary(), flush=True)
    tt = cfg.trend_tokens
    resuming = cfg.run.resume and has_valid_checkpoint(out)
    if tt.steps and not resuming:  # a resumed run's checkpoint holds the warmed sensor path already
        warm = train_trend_tokens(model, data.stage1(cfg.data.train_split),
                                  data.stage1(cfg.data.val_split) if has_val else None, data.rate_hz,
                                  cfg.data.trend_mode, tt.steps, tt.lr, tt.batch_size, cfg.run.seed)
        if acc.is_main_process:
            write_json_atomic(warm.to_json(), out / "trend_tokens.json")

    def make_batch(idx: np.ndarray):
        return collate(model.prompts, [_example(model, train[i], train[i].answer, cfg)
                                       for i in idx])

    def loss_fn(m, batch):
        return m(batch, stage=1).loss

    @torch.inference_mode()
    def validate() -> dict:
        losses = []
        for a in range(0, len(val), cfg.optim.batch_size):
            exs = [_example(model, it, it.answer) for it in val[a : a + cfg.optim.batch_size]]
            losses.append(float(model.forward_stage1(collate(model.prompts, exs).to(acc.device)).loss) * len(exs))
        return {"loss": sum(losses) / max(1, len(val))}

    extra = lambda: checkpoint_extra(cfg, data, "stage1")  # noqa: E731
    result = train_loop(
        model=model, accelerator=acc, n_examples=len(train), make_batch=make_batch, loss_fn=loss_fn,
        optim=cfg.optim, run=cfg.run, out_dir=out, save_extra=extra, validate=validate if val else None,
        lengths=(np.array([len(_example(model, it, it.answer).input_ids) for it in train])
                 if cfg.optim.group_by_length else None),
        progress=progress,
    )
    if not acc.is_main_process:  # the main process alone publishes the model, describes and writes results
        return {"stage": 1, "steps": result.steps, "resumed_from": result.resumed_from}
    last = sorted((out / "checkpoints").glob("step-*"))[-1]
    publish_model(last / "model", out / "model")

    summary: dict = {"stage": 1, "steps": result.steps, "train_time_s": result.train_time_s,
                     "resumed_from": result.resumed_from, "device": result.device,
                     "peak_gpu_mem_gib": result.peak_gpu_mem_gib, "trainable": model.trainable_summary(),
                     "last_train_log": result.last_log,
                     "trend_tokens": (json.loads((out / "trend_tokens.json").read_text())
                                      if (out / "trend_tokens.json").exists() else None),
                     "model_dir": str(out / "model")}
    if val and cfg.eval_generate > 0:
        pick = np.random.default_rng([cfg.run.seed, 31]).choice(len(val), min(cfg.eval_generate, len(val)), replace=False)
        items = [val[i] for i in sorted(pick)]
        t = time.time()
        gen = describe_items(model, items, cfg.optim.batch_size, cfg.max_new_tokens)
        try:
            scores = score_descriptions(items, gen, cfg.data.trend_mode)
        except ImportError as exc:  # the model is already published: a missing scorer must not fail the run
            scores = {"error": f"descriptions not scored: {exc} (pip install nltk rouge-score)"}
            print(f"warning: {scores['error']}; the descriptions are in {out / 'samples.jsonl'}", flush=True)
        summary["generation"] = {**scores, "n": len(items), "seconds": time.time() - t, "decoding": "greedy"}
        with open(out / "samples.jsonl", "w") as fh:
            for it, g in zip(items, gen):
                fh.write(json.dumps({"index": it.index, "channel": it.channel, "question": it.question,
                                     "reference": it.answer, "generated": g}, ensure_ascii=False) + "\n")
    write_json_atomic(summary, out / "metrics.json")
    print(f"Stage 1 done: {result.steps} steps in {result.train_time_s:.0f}s; model in {out / 'model'}")
    return summary
