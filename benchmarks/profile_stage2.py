"""Where the time of a Stage-2 training step and of a prediction batch goes (``torch.profiler``).

Builds a configuration's Stage-2 model (default: the recommended one; SmolLM2-135M-Instruct, random-init
Chronos-T5-tiny: speed does not depend on the weight values), then profiles

- ``--steps`` training steps of batch ``--batch`` on seeded UCI-HAR training windows, the frozen encoder's
  cache warm (as in every epoch after the first): collation, encoder (cache read), projector, the LLM over
  the text prefix (no gradients) and over the sensor block, the head and loss, backward, clipping, AdamW;
- ``--steps`` prediction batches of ``--batch`` test windows as ``sensorllm predict`` scores them (no cache:
  a new recording): the statistics text, collation, the encoder, the projector, the LLM, the head.

The phases are ``torch.profiler.record_function`` ranges (``sensorllm.*`` inside the model, the others here);
"other" is the rest of the wall time (Python between the ranges). The profiler itself adds a little time.

    python benchmarks/profile_stage2.py --data runs/uci-har/data

Writes ``benchmarks/records/performance/profile.json`` and the table between the markers of
``docs/performance.md`` (``--doc-only`` rewrites the table from the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import ROOT, add_timing_args, ensure_prepared, replace_between
from torch.profiler import ProfilerActivity, profile, record_function

from sensorllm.data import TextSettings, collate_items, stage2_items, window_items
from sensorllm.datasets import open_prepared
from sensorllm.datasets.spec import ChannelSpec
from sensorllm.infer.stage2 import autocast_like_training
from sensorllm.model import class_weights_from_labels
from sensorllm.train.common import build_model, checkpoint_extra
from sensorllm.train.config import Stage2Config, load_config

RECORD = ROOT / "benchmarks" / "records" / "performance" / "profile.json"
DOC = ROOT / "docs" / "performance.md"
TRAIN_PHASES = [("step.collate", "collation (prompt ids, padding)"),
                ("sensorllm.encode", "encoder (embedding-cache read)"),
                ("sensorllm.project", "projector"),
                ("sensorllm.llm_text_prefix", "LLM over the text prefix (no gradients, key/value cache)"),
                ("sensorllm.llm", "LLM over the sensor block and what follows"),
                ("sensorllm.head", "head"),
                ("step.backward", "backward (input gradients through the frozen LLM)"),
                ("step.clip", "gradient clipping"),
                ("step.optimizer", "AdamW step + zero_grad")]
PREDICT_PHASES = [("predict.text", "statistics text of each window"),
                  ("step.collate", "collation (prompt ids, padding)"),
                  ("sensorllm.encode", "encoder (Chronos-T5 over every channel)"),
                  ("sensorllm.project", "projector"),
                  ("sensorllm.llm", "LLM (whole sequence, one pass)"),
                  ("sensorllm.head", "head")]


def phase_times(prof, names: list[str]) -> dict[str, float]:
    """Seconds spent inside each named range (summed over its calls)."""
    totals = {e.key: e.cpu_time_total / 1e6 for e in prof.key_averages()}
    return {n: totals.get(n, 0.0) for n in names}


def profile_training(model, items, weights, args) -> dict:
    model.set_trainable(projector=True, head=True, token_rows=False)  # Stage 2 after Stage 1 (the pipeline)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(model.param_groups(0.0), lr=1e-4)
    rng = np.random.default_rng(0)

    def step(idx) -> None:
        with record_function("step.collate"):
            batch = collate_items(model.prompts, items[idx])
        with autocast_like_training(model, args.precision):
            loss = model.forward_stage2(batch, class_weights=weights).loss
        with record_function("step.backward"):
            loss.backward()
        with record_function("step.clip"):
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        with record_function("step.optimizer"):
            opt.step()
            opt.zero_grad(set_to_none=True)

    batches = [rng.choice(len(items), args.batch, replace=False) for _ in range(args.steps)]
    for idx in batches:  # warm-up: fills the embedding cache with exactly the windows profiled below
        step(idx)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for idx in batches:
            step(idx)
        wall = time.perf_counter() - t
    return summarise(prof, wall, [n for n, _ in TRAIN_PHASES], args.steps * args.batch)


@torch.inference_mode()
def profile_prediction(model, windows, extra, channels, args) -> dict:
    model.eval()
    model.cache = None  # a new recording: every window goes through the encoder

    text = TextSettings.of_checkpoint(extra, model.encoder.normalizes_series)

    def batch_of(a: int) -> None:  # as SensorLLMClassifier.predict_proba: window_items, then collate_items
        with record_function("predict.text"):
            items = window_items(windows[a : a + args.batch], channels, float(extra["rate_hz"]), text,
                                 indices=range(a, a + args.batch), key="predict",
                                 model_channels=model.channels)
        with record_function("step.collate"):
            batch = collate_items(model.prompts, items, labels=False)
        with autocast_like_training(model, args.precision):
            model.forward_stage2(batch)

    batch_of(0)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for k in range(args.steps):
            batch_of(k * args.batch)
        wall = time.perf_counter() - t
    return summarise(prof, wall, [n for n, _ in PREDICT_PHASES], args.steps * args.batch)


def summarise(prof, wall: float, names: list[str], samples: int) -> dict:
    phases = phase_times(prof, names)
    # encoder and projector run inside the LLM's embedding step, not inside the "sensorllm.llm" ranges, so
    # the ranges do not nest (checked: their sum never exceeds the wall time)
    other = wall - sum(phases.values())
    return {"wall_s": wall, "samples": samples, "s_per_sample": wall / samples,
            "phases_s": phases, "other_s": other}


def write_doc(rec: dict) -> None:
    lines = [f"`{rec['command']}` ({rec['date']}; {rec['threads']} thread(s), configuration `{rec['config']}`, "
             f"batch {rec['batch']}, {rec['steps']} steps each; {rec['note']})", "",
             "| phase | training step: ms per sample | share | prediction batch: ms per sample | share |",
             "|---|---|---|---|---|"]
    tr, pr = rec["training"], rec["prediction"]
    labels = dict(TRAIN_PHASES) | dict(PREDICT_PHASES)
    order = ["predict.text"] + [n for n, _ in TRAIN_PHASES]
    for name in order:
        cells = []
        for part in (tr, pr):
            v = part["phases_s"].get(name)
            cells += (["–", "–"] if v is None else
                      [f"{1000 * v / part['samples']:.1f}", f"{100 * v / part['wall_s']:.0f} %"])
        if name == "sensorllm.encode":
            label = "encoder (training: embedding-cache read; prediction: Chronos-T5 over every channel)"
        elif name == "sensorllm.llm":
            label = "LLM (training: the sensor block and what follows; prediction: the whole sequence)"
        else:
            label = labels[name]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| other (Python between the ranges) | " + " | ".join(
        f"{1000 * p['other_s'] / p['samples']:.1f} | {100 * p['other_s'] / p['wall_s']:.0f} %" for p in (tr, pr))
        + " |")
    lines.append("| **total** | " + " | ".join(f"**{1000 * p['s_per_sample']:.1f}** | 100 %" for p in (tr, pr))
                 + " |")
    replace_between(DOC, "<!-- profile table -->", "<!-- end profile table -->", lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--config", default="configs/recommended/uci-har/stage2.yaml")
    ap.add_argument("--set", nargs="*", default=[], help="config overrides (KEY=VALUE)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    add_timing_args(ap)
    args = ap.parse_args()
    if args.doc_only:
        write_doc(json.loads(RECORD.read_text()))
        return
    ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.data.parent / "prepare.log")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(Stage2Config, ROOT / args.config,
                          [f"data.prepared={args.data}", f"run.cache_dir={tmp}", "init_from=null", *args.set])
        data = open_prepared(args.data)
        model = build_model(cfg, data, labels=True)
        n = args.batch * args.steps
        text = TextSettings(cfg.data.preprocess_type, cfg.data.trend_mode, cfg.data.stat_digits, 0,
                            model.encoder.normalizes_series)
        train = stage2_items(data, "train", text, limit=4 * n, channels=model.channels)
        weights = class_weights_from_labels(train.labels, len(data.class_names))
        args.precision = cfg.run.mixed_precision
        training = profile_training(model, train, weights, args)
        extra = checkpoint_extra(cfg, data, "stage2")
        channels = [ChannelSpec(**c) for c in extra["dataset"]["channels"]]
        windows = np.asarray(data.stage2("test").windows[: n + args.batch], dtype=np.float64)
        prediction = profile_prediction(model, windows, extra, channels, args)
    for name, part in (("training", training), ("prediction", prediction)):
        if part["other_s"] < -0.01 * part["wall_s"]:
            raise RuntimeError(f"{name}: the ranges overlap (their sum exceeds the wall time)")
        print(f"{name}: {1000 * part['s_per_sample']:.1f} ms per sample; " + ", ".join(
            f"{k} {1000 * v / part['samples']:.1f}" for k, v in part["phases_s"].items()), flush=True)
    rec = {"date": dt.date.today().isoformat(), "threads": args.threads, "batch": args.batch,
           "steps": args.steps, "config": args.config, "overrides": args.set, "note": args.note,
           "training": training, "prediction": prediction,
           "command": "python benchmarks/profile_stage2.py" + (f" --threads {args.threads}" if args.threads != 2
                                                               else "")}
    if args.config == "configs/recommended/uci-har/stage2.yaml" and not args.set:  # the documented profile
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(rec, indent=1) + "\n")
        write_doc(rec)


if __name__ == "__main__":
    main()
