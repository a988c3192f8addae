"""A warm start of the sensor path for Stage 1 (``trend_tokens.steps``; not the paper): before the language-model
loss, the encoder and the projector alone learn to put into each sensor token the LLM's own input embedding of the
trend word of the sample the token stands for (" increasing", " decreasing", " steady").

Why: the describing LLM learns to read its sensor tokens slowly. With the trends written into the tokens exactly
(the oracle encoder of ``benchmarks/stage1_oracle_tokens.py``) it still reads them only partly after 800 QA pairs
(``docs/learning.md``, "Stage 1"). A token that *is* a word's embedding is read by the frozen LLM as that word, with
nothing to learn. The labels come from the data itself, by the same trend segmentation that writes the answers
(:func:`sensorllm.text.segment_trends`, the run's ``data.trend_mode``), so like Stage 1 it needs no human labels.

No LLM forward pass: the targets are rows of the LLM's input embedding matrix, so a step costs the encoder and
projector only (milliseconds per series on a CPU core). The windows are single channels of the training split's
Stage-1 windows, drawn with the run's seed; the held-out split's give the reported token accuracy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from sensorllm.text import segment_trends
from sensorllm.text.segments import DECREASE, INCREASE, STEADY

__all__ = ["TREND_WORDS", "TrendTokensResult", "token_trends", "train_trend_tokens", "word_targets"]

TREND_WORDS = {DECREASE: " decreasing", STEADY: " steady", INCREASE: " increasing"}
"""The word whose embedding a sensor token of each trend learns (with the leading space a word has in a sentence)."""
_CODES = (DECREASE, STEADY, INCREASE)  # target row k is the word of _CODES[k]


def token_trends(x: np.ndarray, rate_hz: float, n_tokens: int, samples_per_token: int, mode: str) -> np.ndarray:
    """The target row (0 decrease, 1 steady, 2 increase) of each of a series' ``n_tokens`` sensor tokens: the trend
    of the segment holding the first sample the token covers (a boundary sample starts the next segment);
    ``-1`` for a token that covers no sample (an encoder's end-of-series token)."""
    seg = segment_trends(np.asarray(x, dtype=np.float64), rate_hz, mode=mode)  # type: ignore[arg-type]
    first = np.arange(n_tokens) * samples_per_token
    k = np.minimum(np.searchsorted(seg.end_idx, np.minimum(first, len(x) - 1), side="right"), len(seg) - 1)
    rows = np.searchsorted(np.array(_CODES), seg.trend[k].astype(np.int64))
    return np.where(first < len(x), rows, -1)


def word_targets(model) -> torch.Tensor:
    """``(3, H)``: the LLM's input embedding of each trend word (the mean of its sub-token rows), frozen."""
    emb = model.hf_model.get_input_embeddings().weight
    rows = []
    for code in _CODES:
        ids = model.tokenizer(TREND_WORDS[code], add_special_tokens=False)["input_ids"]
        rows.append(emb[ids].float().mean(0))
    return torch.stack(rows).detach()


@dataclass
class TrendTokensResult:
    steps: int
    seconds: float
    train_loss: float  # last logged mean squared error relative to the targets' mean square
    train_accuracy: float  # share of tokens whose nearest word (cosine) is their label, last logged steps
    val_accuracy: float | None  # the same on held-out series
    curve: list[dict]

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("steps", "seconds", "train_loss", "train_accuracy", "val_accuracy",
                                              "curve")}


def _draw(windows, n: int, seed: int, tag: int) -> list[tuple[int, int]]:
    """``n`` seeded (window, channel) pairs of a Stage-1 window set."""
    rng = np.random.default_rng([seed, tag])
    C = windows[0].shape[1]
    return [(int(w), int(c)) for w, c in zip(rng.integers(len(windows), size=n), rng.integers(C, size=n))]


def _batch(model, windows, pairs, rate_hz: float, mode: str) -> tuple[list[torch.Tensor], torch.Tensor]:
    series, labels = [], []
    spt = model.prompts.samples_per_token
    for w, c in pairs:
        x = np.array(windows[w][:, c], dtype=np.float32)  # a copy: the prepared arrays are read-only
        series.append(torch.from_numpy(x).to(model.encoder.device))
        labels.append(token_trends(x, rate_hz, model.num_sensor_tokens(len(x)), spt, mode))
    return series, torch.from_numpy(np.concatenate(labels))


def _scores(tokens: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(relative squared error of the labelled tokens to their words, share whose nearest word is theirs)."""
    keep = labels >= 0
    t, y = tokens[keep].float(), labels[keep].to(tokens.device)
    goal = targets[y]
    loss = ((t - goal) ** 2).mean() / (targets ** 2).mean()
    cos = torch.nn.functional.normalize(t, dim=-1) @ torch.nn.functional.normalize(targets, dim=-1).T
    return loss, float((cos.argmax(-1) == y).float().mean()) if len(y) else float("nan")


def train_trend_tokens(model, train_windows, val_windows, rate_hz: float, mode: str, steps: int, lr: float,
                       batch_size: int, seed: int, log_every: int = 50) -> TrendTokensResult:
    """Train the encoder (when it trains) and the projector so that each sensor token is its trend word's
    embedding (module docstring); ``val_windows`` may be ``None``. Returns what was measured."""
    targets = word_targets(model).to(model.encoder.device)
    params = [p for p in (*model.encoder.parameters(), *model.projector.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 20)))
    was = model.training
    model.train()
    pairs = _draw(train_windows, steps * batch_size, seed, 61)
    t0, curve, losses, accs = time.time(), [], [], []
    for step in range(steps):
        series, labels = _batch(model, train_windows, pairs[step * batch_size:(step + 1) * batch_size], rate_hz, mode)
        loss, acc = _scores(torch.cat(model.sensors.embed_series(series)), labels, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        accs.append(acc)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            row = {"step": step + 1, "loss": float(np.mean(losses)), "accuracy": float(np.mean(accs)),
                   "elapsed_s": round(time.time() - t0, 1)}
            curve.append(row)
            print(f"trend tokens step {row['step']}/{steps}: relative error {row['loss']:.3f}, nearest word right "
                  f"{100 * row['accuracy']:.1f} %", flush=True)
            losses, accs = [], []
    val_acc = None
    if val_windows is not None and len(val_windows):
        model.eval()
        held_out = _draw(val_windows, 256, seed, 67)
        with torch.no_grad():
            hits = []
            for a in range(0, len(held_out), batch_size):
                series, labels = _batch(model, val_windows, held_out[a:a + batch_size], rate_hz, mode)
                _, acc = _scores(torch.cat(model.sensors.embed_series(series)), labels, targets)
                hits.append(acc)
        val_acc = float(np.mean(hits))
        print(f"trend tokens: nearest word right on {100 * val_acc:.1f} % of held-out sensor tokens", flush=True)
    model.train(was)
    last = curve[-1] if curve else {"loss": float("nan"), "accuracy": float("nan")}
    return TrendTokensResult(steps, time.time() - t0, last["loss"], last["accuracy"], val_acc, curve)
