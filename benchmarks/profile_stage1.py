"""Stage-1 training step: what a QA pair holds (tokens), where the time of a step goes (``torch.profiler``).

Builds the describing Stage-1 model as ``sensorllm align`` does (default configuration
``configs/recommended/uci-har/stage1-describe.yaml``: SmolLM2-135M with LoRA, random-init Chronos-T5-tiny,
pool 1; speed does not depend on the weight values), then

- tokenises ``--examples`` seeded Stage-1 training examples with the model's prompt builder and counts, per QA
  pair, the tokens of the system prompt, the sensor positions (``<ts>`` placeholders and the channel's
  start/end markers), the question, the answer's segment block (segment and count lines, up to the blank line)
  and its summary paragraph, and the chat template with separators; plus the padding share of random and of
  length-grouped micro-batches (``optim.group_by_length``, the training's order). These do not depend on load;
- profiles ``--steps`` training steps of one micro-batch of the configuration's size each (a length-grouped
  batch, encoder cache cold as in Stage 1's single epoch), with all LLM layers in fp32, with ``llm.num_layers=8``
  and with all layers under bf16 autocast (``run.mixed_precision=bf16``, as training runs it):
  collation, encoder, projector, the LLM's decoder layers, the LM head (answer positions only), the loss with
  the rest of the forward, backward, gradient clipping, AdamW. "other" is the wall time outside the ranges.

    python benchmarks/profile_stage1.py --data runs/uci-har/data

Writes ``benchmarks/records/performance/profile-stage1.json`` and the tables between the Stage-1 profile
markers of ``docs/performance.md`` (``--doc-only`` rewrites them from the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import ROOT, add_timing_args, ensure_prepared, replace_between
from torch.profiler import ProfilerActivity, profile, record_function

from sensorllm.data import Stage1Item, collate, stage1_items
from sensorllm.datasets import open_prepared
from sensorllm.infer.stage2 import autocast_like_training
from sensorllm.model import SensorLLM
from sensorllm.model.prompts import PromptBuilder, Stage1Example
from sensorllm.train.common import build_model
from sensorllm.train.config import Stage1Config, load_config
from sensorllm.train.loop import epoch_order

CONFIG = "configs/recommended/uci-har/stage1-describe.yaml"
RECORD = ROOT / "benchmarks" / "records" / "performance" / "profile-stage1.json"
DOC = ROOT / "docs" / "performance.md"
PARTS = [("system", "system prompt"),
         ("sensor", "sensor positions (n + 1 `<ts>` for n samples, start/end markers)"),
         ("question", "question"),
         ("segments", "answer: segment and count lines (to the blank line)"),
         ("summary", "answer: summary paragraph"), ("template", "chat template and separators"),
         ("total", "**total**"), ("trained", "of which trained (answer + end of turn)")]
PHASES = [("step.collate", "collation (prompt ids, padding)"),
          ("sensorllm.encode", "encoder (Chronos-T5-tiny)"), ("sensorllm.project", "projector"),
          ("step.llm_layers", "LLM decoder layers (forward)"),
          ("step.lm_head", "LM head (answer positions only)"),
          ("step.forward_rest", "loss and the rest of the forward (embedding lookup, cross-entropy)"),
          ("step.backward", "backward (LM head, LLM, projector)"), ("step.clip", "gradient clipping"),
          ("step.optimizer", "AdamW step + zero_grad")]
QS = ("p10", "p50", "p90")
# profiled variants: key → (overrides, column label); "all" is the configuration as given
VARIANTS = {"all": ([], "{n} LLM layers"), "8": (["llm.num_layers=8"], "8 layers"),
            "bf16": (["run.mixed_precision=bf16"], "{n} layers, bf16 autocast")}


def token_parts(prompts: PromptBuilder, it: Stage1Item, ex: Stage1Example) -> dict[str, int]:
    """Tokens of each part of one example (its ids decoded to the chat text), each token counted in the part
    where its first character lies."""
    n = len(it.series)
    system = prompts.system_prompt(n, it.rate_hz)
    block = prompts.sensor_block({it.channel: n}, it.rate_hz).rstrip("\n")
    full = prompts.tokenizer.decode(ex.input_ids, clean_up_tokenization_spaces=False)  # the chat text
    enc = prompts.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    if enc["input_ids"] != ex.input_ids:
        raise RuntimeError("the example's text does not tokenise back to its ids")
    blank = it.answer.index("\n\n") + 2
    spans, at = [], 0
    for name, text in (("system", system), ("sensor", block), ("question", it.question),
                       ("segments", it.answer[:blank]), ("summary", it.answer[blank:])):
        at = full.index(text, at)
        spans.append((name, at, at + len(text)))
        at += len(text)
    counts = {name: 0 for name, _ in PARTS}
    for a, _ in enc["offset_mapping"]:
        counts[next((name for name, lo, hi in spans if lo <= a < hi), "template")] += 1
    counts["total"] = len(ex.input_ids)
    counts["trained"] = sum(x != -100 for x in ex.labels)
    if not prompts.time_marks and counts["sensor"] != prompts.tokens_per_series(n) + 2:
        raise RuntimeError(f"{counts['sensor']} sensor positions, not {prompts.tokens_per_series(n)} + 2")
    return counts


def token_stats(counts: list[dict[str, int]]) -> dict[str, dict[str, float]]:
    """Mean and 10/50/90th percentiles of each part's tokens over the examples."""
    out = {}
    for k, _ in PARTS:
        v = [c[k] for c in counts]
        out[k] = {"mean": float(np.mean(v)), **{q: float(np.percentile(v, int(q[1:]))) for q in QS}}
    return out


def padding(lengths: np.ndarray, batch: int, seed: int) -> dict[str, dict]:
    out = {}
    for name, order in (("random", epoch_order(len(lengths), batch, seed, 0)),
                        ("grouped", epoch_order(len(lengths), batch, seed, 0, lengths))):
        bs = order[: len(order) - len(order) % batch].reshape(-1, batch)
        real, padded = int(lengths[bs].sum()), int(lengths[bs].max(axis=1).sum() * batch)
        out[name] = {"real": real, "padded": padded, "share": (padded - real) / padded}
    return out


def ranged(module: torch.nn.Module, name: str) -> None:
    """Time ``module``'s forward as a ``record_function`` range, opened and closed by forward hooks."""
    open_ranges: list[Any] = []

    def enter(*_: Any) -> None:
        open_ranges.append(record_function(name).__enter__())

    def leave(*_: Any) -> None:
        open_ranges.pop().__exit__(None, None, None)

    module.register_forward_pre_hook(enter)
    module.register_forward_hook(leave)


def profile_training(model: SensorLLM, cfg: Stage1Config, exs: list[Stage1Example],
                     batches: list[np.ndarray], threads: int) -> dict:
    model.set_trainable(projector=True, head=False, token_rows=cfg.train_token_rows)  # as run_align
    model.train()
    hf = model.hf_model
    ranged(hf.get_decoder(), "step.llm_layers")
    ranged(hf.get_output_embeddings(), "step.lm_head")
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(model.param_groups(cfg.optim.weight_decay, cfg.optim.head_lr), lr=cfg.optim.lr)

    def step(idx: np.ndarray) -> None:
        with record_function("step.collate"):
            batch = collate(model.prompts, [exs[i] for i in idx])
        with autocast_like_training(model, cfg.run.mixed_precision), record_function("step.forward"):
            loss = model.forward_stage1(batch).loss
        with record_function("step.backward"):
            loss.backward()
        with record_function("step.clip"):
            torch.nn.utils.clip_grad_norm_(trainable, cfg.optim.grad_clip or float("inf"))
        with record_function("step.optimizer"):
            opt.step()
            opt.zero_grad(set_to_none=True)

    torch.set_num_threads(threads)
    step(batches[0])  # warm-up on another batch: the profiled ones miss the encoder cache, as in one epoch
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for idx in batches[1:]:
            step(idx)
        wall = time.perf_counter() - t
    totals = {e.key: e.cpu_time_total / 1e6 for e in prof.key_averages()}
    phases = {n: totals.get(n, 0.0) for n, _ in PHASES}
    nested = ("sensorllm.encode", "sensorllm.project", "step.llm_layers", "step.lm_head")
    phases["step.forward_rest"] = totals.get("step.forward", 0.0) - sum(phases[n] for n in nested)
    other = wall - sum(phases.values())
    if other < -0.01 * wall:
        raise RuntimeError("the ranges overlap (their sum exceeds the wall time)")
    pairs = sum(len(b) for b in batches[1:])
    padded = [int(len(b) * max(len(exs[i].input_ids) for i in b)) for b in batches[1:]]
    return {"wall_s": wall, "pairs": pairs, "ms_per_pair": 1000 * wall / pairs, "phases_s": phases,
            "other_s": other, "padded_tokens": padded}


def write_doc(rec: dict) -> None:
    tok, pad = rec["tokens"], rec["padding"]
    lines = [f"`{rec['command']}` ({rec['date']}; {rec['examples']} seeded Stage-1 training examples of "
             f"`{rec['config']}`, tolerant trends, SmolLM2 chat template; token counts, independent of load)",
             "", "| tokens per QA pair | mean | p10 | median | p90 |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {tok[k]['mean']:.1f} | " + " | ".join(f"{tok[k][q]:.0f}" for q in QS)
              + " |" for k, label in PARTS]
    lines += ["", f"Padding share of micro-batches of {rec['batch']}: random order "
              f"{100 * pad['random']['share']:.1f} %, length-grouped (`optim.group_by_length`, as training) "
              f"{100 * pad['grouped']['share']:.1f} %.", ""]
    keys = [k for k in VARIANTS if k in rec["timing"]]  # older records lack the bf16 variant
    runs = [rec["timing"][k] for k in keys]
    labels = [VARIANTS[k][1].format(n=rec["llm_layers"]) for k in keys]
    lines += [f"Training step, batch {rec['batch']}, {rec['steps']} steps profiled, length-grouped batches "
              f"({', '.join(map(str, runs[0]['padded_tokens']))} tokens padded), cold encoder cache, "
              f"{rec['threads']} thread(s), AdamW after every micro-batch; {rec['note']}:", "",
              "| phase | " + " | ".join(f"{lab}: ms / pair | share" for lab in labels) + " |",
              "|---|" + "---|---|" * len(keys)]
    rows = [*PHASES, ("other", "other (Python between the ranges)")]
    for name, label in rows:
        cells = [(p["other_s"] if name == "other" else p["phases_s"][name], p) for p in runs]
        lines.append(f"| {label} | " + " | ".join(
            f"{1000 * v / p['pairs']:.1f} | {100 * v / p['wall_s']:.0f} %" for v, p in cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{p['ms_per_pair']:.1f}** | 100 %" for p in runs) + " |")
    lines += [""] + [f"{lab}: {runs[0]['ms_per_pair'] / p['ms_per_pair']:.2f}× less time per pair than "
                     f"{labels[0]} (fp32)." for p, lab in zip(runs[1:], labels[1:])]
    replace_between(DOC, "<!-- stage1 profile table -->", "<!-- end stage1 profile table -->", lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--config", default=CONFIG)
    ap.add_argument("--set", nargs="*", default=[], help="config overrides (KEY=VALUE)")
    ap.add_argument("--examples", type=int, default=800)
    ap.add_argument("--steps", type=int, default=3)
    add_timing_args(ap)
    args = ap.parse_args()
    if args.doc_only:
        write_doc(json.loads(RECORD.read_text()))
        return
    ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.data.parent / "prepare.log")
    torch.set_num_threads(args.threads)
    data = open_prepared(args.data)
    timing: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, (extra, _) in VARIANTS.items():
            cfg = load_config(Stage1Config, ROOT / args.config,
                              [f"data.prepared={args.data}", f"run.cache_dir={tmp}/{key}", *args.set, *extra])
            torch.manual_seed(cfg.run.seed)
            model = build_model(cfg, data, labels=False)
            if not timing:  # token counts and the batches, once (the same prompts at any depth)
                items = stage1_items(data, "train", cfg.run.seed, cfg.data.trend_mode, args.examples)
                exs = [model.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, it.answer)
                       for it in items]
                tokens = token_stats([token_parts(model.prompts, it, ex) for it, ex in zip(items, exs)])
                lengths = np.array([len(e.input_ids) for e in exs])
                bs = cfg.optim.batch_size
                pad = padding(lengths, bs, cfg.run.seed)
                order = epoch_order(len(exs), bs, cfg.run.seed, 0, lengths)
                batches = [order[i * bs : (i + 1) * bs] for i in range(args.steps + 1)]
                n_layers = model.hf_model.config.num_hidden_layers
                print(" ".join(f"{k} {v['mean']:.1f}" for k, v in tokens.items()), pad, flush=True)
            t = timing[key] = profile_training(model, cfg, exs, batches, args.threads)
            print(f"{key}: {t['ms_per_pair']:.0f} ms per pair; " + ", ".join(
                f"{k} {1000 * v / t['pairs']:.0f}" for k, v in t["phases_s"].items()), flush=True)
            del model
    flags = "".join(f" --{k} {v}" for k, v, d in (("examples", args.examples, 800), ("steps", args.steps, 3),
                                                   ("threads", args.threads, 2)) if v != d)
    rec = {"date": dt.date.today().isoformat(), "config": args.config, "overrides": args.set,
           "examples": args.examples, "batch": bs, "steps": args.steps, "threads": args.threads,
           "llm_layers": n_layers, "note": args.note, "tokens": tokens, "padding": pad, "timing": timing,
           "command": "python benchmarks/profile_stage1.py" + flags}
    if args.config == CONFIG and not args.set:  # the documented profile
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(rec, indent=1) + "\n")
        write_doc(rec)


if __name__ == "__main__":
    main()
