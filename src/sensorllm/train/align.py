"""Stage 1 — sensor-language alignment (``sensorllm align``).

Single-channel windows of random length, each with a trend question and the data-derived answer (segments,
counts, summary). Causal-LM loss on the answer only; the projector and the channel start/end token rows train,
LLM and encoder stay frozen. After training, held-out windows are described greedily and scored (BLEU, ROUGE,
SBERT, and trend-structure agreement parsed from the generated text).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from sensorllm.eval.metrics import write_json_atomic
from sensorllm.eval.textscore import text_scores
from sensorllm.model import default_system_prompt
from sensorllm.text import parse_trend_answer, score_answer, segment_trends

from .common import build_model, checkpoint_extra, open_data, publish_model, setup_run
from .config import Stage1Config
from .data import Stage1Item, stage1_items
from .loop import train_loop

__all__ = ["run_align", "describe_items", "score_descriptions"]


def _example(model, it: Stage1Item, answer: str | None):
    return model.prompts.stage1({it.channel: it.series}, it.question, answer,
                                system=default_system_prompt(len(it.series), it.rate_hz))


@torch.inference_mode()
def describe_items(model, items: list[Stage1Item], batch_size: int = 4, max_new_tokens: int = 256) -> list[str]:
    """Greedy trend descriptions for Stage-1 items (seeded decoding is deterministic)."""
    base = getattr(model, "module", model)
    device = next(base.projector.parameters()).device
    out: list[str] = []
    t0 = time.time()
    print(f"describing {len(items)} window(s): greedy, up to {max_new_tokens} new tokens each", file=sys.stderr,
          flush=True)
    for a in range(0, len(items), batch_size):
        exs = [_example(base, it, None) for it in items[a : a + batch_size]]
        batch = base.prompts.collate(exs, padding_side="left").to(device)
        out += base.generate(batch, max_new_tokens=max_new_tokens)
        print(f"described {len(out)}/{len(items)} windows ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


def score_descriptions(items: list[Stage1Item], generated: list[str], trend_mode: str = "exact") -> dict:
    """Text similarity to the reference answers plus trend-structure scores from parsing the generations."""
    scores = text_scores(generated, [it.answer for it in items])
    structure = []
    for it, g in zip(items, generated):
        ref = segment_trends(it.series, it.rate_hz, mode=trend_mode)  # type: ignore[arg-type]
        s = score_answer(parse_trend_answer(g), ref)
        structure.append({
            "segment_count_abs_error": abs(s["parsed_segments"] - s["ref_segments"]),
            "step_accuracy": s["step_accuracy"],
            "segments_exact": float(s["segments_exact"]),
            "overall_ok": float(bool(s["overall_ok"])),  # a missing overall statement counts as wrong
        })
    for k in ("segment_count_abs_error", "step_accuracy", "segments_exact", "overall_ok"):
        scores[k] = float(np.mean([r[k] for r in structure])) if structure else None
    return scores


def run_align(cfg: Stage1Config) -> dict:
    """Train Stage 1; writes ``<out_dir>/model``, ``metrics.json`` (generation scores) and ``samples.jsonl``."""
    out, acc = setup_run(cfg, "align (Stage 1)")
    data = open_data(cfg)
    t = time.time()
    train = stage1_items(data, cfg.data.train_split, cfg.run.seed, cfg.data.trend_mode, cfg.data.max_train_examples)
    has_val = cfg.data.val_split in data.splits()
    val = (stage1_items(data, cfg.data.val_split, cfg.run.seed, cfg.data.trend_mode, cfg.data.max_val_examples)
           if has_val else [])
    print(f"texts: {len(train)} train / {len(val)} val single-channel examples in {time.time() - t:.1f}s", flush=True)

    model = build_model(cfg, data, labels=False)
    model.set_trainable(projector=True, head=False, token_rows=cfg.train_token_rows)
    print("trainable:", model.trainable_summary(), flush=True)

    def make_batch(idx: np.ndarray):
        return model.prompts.collate([_example(model, train[i], train[i].answer) for i in idx])

    def loss_fn(m, batch):
        return m(batch, stage=1).loss

    @torch.inference_mode()
    def validate() -> dict:
        losses = []
        for a in range(0, len(val), cfg.optim.batch_size):
            exs = [_example(model, it, it.answer) for it in val[a : a + cfg.optim.batch_size]]
            losses.append(float(model.forward_stage1(model.prompts.collate(exs).to(acc.device)).loss) * len(exs))
        return {"loss": sum(losses) / max(1, len(val))}

    extra = lambda: checkpoint_extra(cfg, data, "stage1")  # noqa: E731
    result = train_loop(
        model=model, accelerator=acc, n_examples=len(train), make_batch=make_batch, loss_fn=loss_fn,
        optim=cfg.optim, run=cfg.run, out_dir=out, save_extra=extra, validate=validate if val else None,
        lengths=(np.array([len(_example(model, it, it.answer).input_ids) for it in train])
                 if cfg.optim.group_by_length else None),
    )
    last = sorted((out / "checkpoints").glob("step-*"))[-1]
    publish_model(last / "model", out / "model")

    summary: dict = {"stage": 1, "steps": result.steps, "train_time_s": result.train_time_s,
                     "resumed_from": result.resumed_from, "device": result.device,
                     "peak_gpu_mem_gib": result.peak_gpu_mem_gib, "trainable": model.trainable_summary(),
                     "last_train_log": result.last_log,
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
        import json

        with open(out / "samples.jsonl", "w") as fh:
            for it, g in zip(items, gen):
                fh.write(json.dumps({"index": it.index, "channel": it.channel, "question": it.question,
                                     "reference": it.answer, "generated": g}, ensure_ascii=False) + "\n")
    write_json_atomic(summary, out / "metrics.json")
    print(f"Stage 1 done: {result.steps} steps in {result.train_time_s:.0f}s; model in {out / 'model'}")
    return summary
