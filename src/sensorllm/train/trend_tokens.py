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

An encoder with a summary token (``encoder.summary_token``, unpooled) gets one more target per series: the word of
the window's overall direction (sign of last − first sample), which the answers' "overall trend" sentence states
and no per-sample trend word carries. Its error weighs as much as all the sample tokens' together.
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


def token_trends(x: np.ndarray, rate_hz: float, n_tokens: int, samples_per_token: int, mode: str,
                 summary: bool = False) -> np.ndarray:
    """The target row (0 decrease, 1 steady, 2 increase) of each of a series' ``n_tokens`` sensor tokens: the trend
    of the segment holding the first sample the token covers (a boundary sample starts the next segment);
    ``-1`` for a token that covers no sample (an encoder's end-of-series token). With ``summary`` the last token is
    an encoder's summary token (:attr:`~sensorllm.model.EncoderConfig.summary_token`): its row is the window's
    overall direction (sign of last − first sample, steady within the mode's tolerance)."""
    seg = segment_trends(np.asarray(x, dtype=np.float64), rate_hz, mode=mode)  # type: ignore[arg-type]
    first = np.arange(n_tokens) * samples_per_token
    k = np.minimum(np.searchsorted(seg.end_idx, np.minimum(first, len(x) - 1), side="right"), len(seg) - 1)
    rows = np.searchsorted(np.array(_CODES), seg.trend[k].astype(np.int64))
    rows = np.where(first < len(x), rows, -1)
    if summary:
        rows[-1] = _CODES.index(seg.overall())
    return rows


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
    val_summary_accuracy: float | None = None  # summary tokens of held-out series whose nearest word is right

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("steps", "seconds", "train_loss", "train_accuracy", "val_accuracy",
                                              "val_summary_accuracy", "curve")}


def _draw(windows, n: int, seed: int, tag: int) -> list[tuple[int, int]]:
    """``n`` seeded (window, channel) pairs of a Stage-1 window set."""
    rng = np.random.default_rng([seed, tag])
    C = windows[0].shape[1]
    return [(int(w), int(c)) for w, c in zip(rng.integers(len(windows), size=n), rng.integers(C, size=n))]


def _batch(model, windows, pairs, rate_hz: float, mode: str
           ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Series, token labels and which tokens are summary tokens, for ``pairs``."""
    series, labels, is_summary = [], [], []
    spt = model.prompts.samples_per_token
    # a summary token is a token of its own only unpooled; pooled, it shares the last token with samples
    summary = bool(model.encoder.summary_token) and model.config.projector.pool == 1
    for w, c in pairs:
        x = np.array(windows[w][:, c], dtype=np.float32)  # a copy: the prepared arrays are read-only
        series.append(torch.from_numpy(x).to(model.encoder.device))
        n = model.num_sensor_tokens(len(x))
        labels.append(token_trends(x, rate_hz, n, spt, mode, summary=summary))
        is_summary.append(np.arange(n) == n - 1 if summary else np.zeros(n, dtype=bool))
    return series, torch.from_numpy(np.concatenate(labels)), torch.from_numpy(np.concatenate(is_summary))


def _scores(tokens: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, is_summary: torch.Tensor
            ) -> tuple[torch.Tensor, float, float | None]:
    """(relative squared error of the labelled tokens to their words, share of the sample tokens whose nearest word
    is theirs, the same share of the summary tokens or ``None`` without any). The summary tokens' error counts as
    much as all sample tokens' together (one summary token per series against one per sample)."""
    labels, is_summary = labels.to(tokens.device), is_summary.to(tokens.device)
    cos = torch.nn.functional.normalize(tokens.float(), dim=-1) @ torch.nn.functional.normalize(targets, dim=-1).T
    hit = cos.argmax(-1) == labels
    loss, accs = tokens.new_zeros((), dtype=torch.float32), []
    for part in (~is_summary & (labels >= 0), is_summary):
        if not bool(part.any()):
            accs.append(None)
            continue
        err = ((tokens[part].float() - targets[labels[part]]) ** 2).mean() / (targets ** 2).mean()
        loss = loss + err
        accs.append(float(hit[part].float().mean()))
    return loss, float("nan") if accs[0] is None else accs[0], accs[1]


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
    t0, curve, losses, accs, summary_accs = time.time(), [], [], [], []
    for step in range(steps):
        series, labels, is_summary = _batch(model, train_windows, pairs[step * batch_size:(step + 1) * batch_size],
                                            rate_hz, mode)
        loss, acc, summary_acc = _scores(torch.cat(model.sensors.embed_series(series)), labels, targets, is_summary)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        accs.append(acc)
        if summary_acc is not None:
            summary_accs.append(summary_acc)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            row = {"step": step + 1, "loss": float(np.mean(losses)), "accuracy": float(np.mean(accs)),
                   "elapsed_s": round(time.time() - t0, 1)}
            said = ""
            if summary_accs:
                row["summary_accuracy"] = float(np.mean(summary_accs))
                said = f"; summary token right {100 * row['summary_accuracy']:.1f} %"
            curve.append(row)
            print(f"trend tokens step {row['step']}/{steps}: relative error {row['loss']:.3f}, nearest word right "
                  f"{100 * row['accuracy']:.1f} %{said}", flush=True)
            losses, accs, summary_accs = [], [], []
    val_acc = val_summary_acc = None
    if val_windows is not None and len(val_windows):
        model.eval()
        held_out = _draw(val_windows, 256, seed, 67)
        with torch.no_grad():
            hits, summary_hits = [], []
            for a in range(0, len(held_out), batch_size):
                series, labels, is_summary = _batch(model, val_windows, held_out[a:a + batch_size], rate_hz, mode)
                _, acc, summary_acc = _scores(torch.cat(model.sensors.embed_series(series)), labels, targets,
                                              is_summary)
                hits.append(acc)
                if summary_acc is not None:
                    summary_hits.append(summary_acc)
        val_acc = float(np.mean(hits))
        print(f"trend tokens: nearest word right on {100 * val_acc:.1f} % of held-out sensor tokens", flush=True)
        if summary_hits:
            val_summary_acc = float(np.mean(summary_hits))
            print(f"trend tokens: the summary token names the overall direction of {100 * val_summary_acc:.1f} % "
                  "of held-out series", flush=True)
    model.train(was)
    last = curve[-1] if curve else {"loss": float("nan"), "accuracy": float("nan")}
    return TrendTokensResult(steps, time.time() - t0, last["loss"], last["accuracy"], val_acc, curve,
                             val_summary_acc)
