"""Stage-1 alignment on a handful of windows: the answer-only LM loss goes down.

Trains only what Stage 1 trains (projector + channel start/end rows; LLM and Chronos frozen) on a few
windows with one trend question per (window, channel), and prints the loss.

    # synthetic sine/step windows, SmolLM2-135M-Instruct (first run converts the GGUF, ~30 s; then
    # ~5-15 s per step on 2 CPU cores)
    .venv/bin/python docs/stage1_loss_demo.py
    # real windows from a prepared dataset (`sensorllm prepare ... --out DIR`)
    .venv/bin/python docs/stage1_loss_demo.py --prepared DIR
    # plumbing check only: a tiny random LLM cannot learn much, but runs in seconds
    .venv/bin/python docs/stage1_loss_demo.py --llm tiny-random-llama

The loss over all the examples is measured before and after training (same examples, eval mode), and
the training loss of each step is printed. The answers are short trend descriptions computed here from
the window itself (start, extreme and end value of the channel), so the model has to read the sensor
tokens to predict them. The Chronos encoder is a random initialisation unless ``--chronos`` names real
weights: it says so in the output.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sensorllm.data import collate  # noqa: E402
from sensorllm.model import (  # noqa: E402
    EncoderConfig,
    LLMConfig,
    ProjectorConfig,
    SensorLLMConfig,
    build_sensor_llm,
    default_system_prompt,
)

RATE_HZ = 50.0


def synthetic_windows(n: int, seed: int) -> tuple[list[dict[str, np.ndarray]], list[str], float]:
    """Sine + step windows of 3 accelerometer axes, 40–80 samples each."""
    rng = np.random.default_rng(seed)
    channels = ["x_acc", "y_acc", "z_acc"]
    windows = []
    for _ in range(n):
        length = int(rng.integers(40, 81))
        t = np.arange(length) / RATE_HZ
        w = {}
        for c in channels:
            x = rng.normal() * np.sin(2 * np.pi * rng.uniform(0.3, 2.0) * t + rng.uniform(0, 6))
            x += (t > rng.uniform(t[0], t[-1])) * rng.normal(scale=2.0)
            w[c] = x + 0.05 * rng.normal(size=length)
        windows.append(w)
    return windows, channels, RATE_HZ


def prepared_windows(root: str, n: int, seed: int) -> tuple[list[dict[str, np.ndarray]], list[str], float]:
    """``n`` random Stage-1 training windows of a prepared dataset."""
    from sensorllm.datasets.prepared import open_prepared

    ds = open_prepared(root)
    split = ds.stage1("train")
    idx = np.random.default_rng(seed).choice(len(split), size=min(n, len(split)), replace=False)
    names = ds.channel_names
    windows = [
        {c: np.asarray(split[int(i)][:, k], dtype=np.float64) for k, c in enumerate(names)} for i in idx
    ]
    return windows, names, float(ds.rate_hz)


def trend_answer(x: np.ndarray, name: str, rate: float) -> str:
    """A short description of one channel, from its own values."""
    i_max, i_min = int(np.nanargmax(x)), int(np.nanargmin(x))
    first, last = ("maximum", i_max) if i_max < i_min else ("minimum", i_min)
    second, j = ("minimum", i_min) if first == "maximum" else ("maximum", i_max)
    return (
        f"The {name} signal starts at {x[0]:.2f}, reaches its {first} {x[last]:.2f} at {last / rate:.2f} s, "
        f"its {second} {x[j]:.2f} at {j / rate:.2f} s, and ends at {x[-1]:.2f}. "
        f"Overall it {'rises' if x[-1] > x[0] else 'falls'}."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llm", default="smollm2-135m", help="LLM alias or hub id/dir (smollm2-135m, ...)")
    ap.add_argument("--chronos", default=None, help="Chronos-T5 hub id/dir; default: random-init tiny")
    ap.add_argument(
        "--prepared", default=None, help="prepared dataset dir (real windows); default: synthetic"
    )
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    if args.prepared:
        windows, channels, rate = prepared_windows(args.prepared, args.windows, args.seed)
    else:
        windows, channels, rate = synthetic_windows(args.windows, args.seed)

    cfg = SensorLLMConfig(
        channels=tuple(channels),
        llm=LLMConfig(name=args.llm, seed=args.seed),
        encoder=EncoderConfig(pretrained=args.chronos, size="tiny", seed=args.seed),
        projector=ProjectorConfig(preset="paper", pool=args.pool),
        allow_truncation=True,
    )
    model = build_sensor_llm(cfg)
    model.set_trainable(projector=True, token_rows=True)
    print(
        f"LLM {args.llm} (hidden {model.hidden_size}, tied embeddings: {model.tied_embeddings}); "
        f"encoder {model.encoder.source} (random init: {model.encoder.is_random_init}); "
        f"data: {'prepared ' + args.prepared if args.prepared else 'synthetic sine/step windows'}"
    )
    print("trainable:", model.trainable_summary())

    examples = []
    for w in windows:
        n = len(next(iter(w.values())))
        system = default_system_prompt(n, rate)
        for c in channels:
            if not np.isfinite(w[c]).any():
                continue
            x = np.nan_to_num(w[c], nan=float(np.nanmean(w[c])))
            q = f"Describe the trend of the {c} channel."
            examples.append(model.prompts.stage1({c: w[c]}, q, trend_answer(x, c, rate), system=system))
    print(
        f"{len(examples)} examples, "
        f"{sum(len(e.input_ids) for e in examples) / len(examples):.0f} tokens on average"
    )

    def eval_loss() -> float:
        """Mean answer-token loss over all examples (eval mode, no gradient)."""
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(examples), args.batch):
                out = model.forward_stage1(collate(model.prompts, examples[i : i + args.batch]))
                total += out.loss.item() * out.num_tokens
                count += out.num_tokens
        model.train()
        return total / count

    before = eval_loss()
    print(f"loss over all {len(examples)} examples before training: {before:.4f}")
    # As the reference's HF Trainer: AdamW, weight decay 0, linear warm-up then cosine decay,
    # gradient clipping at 1.0.
    opt = torch.optim.AdamW(model.param_groups(weight_decay=0.0), lr=args.lr)
    warmup = max(1, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / warmup
            if s < warmup
            else 0.5 * (1 + np.cos(np.pi * (s - warmup) / max(1, args.steps - warmup)))
        ),
    )
    params = [p for g in opt.param_groups for p in g["params"]]
    rng = np.random.default_rng(args.seed)
    model.train()
    t0 = time.time()
    for step in range(1, args.steps + 1):
        pick = rng.choice(len(examples), size=min(args.batch, len(examples)), replace=False)
        batch = collate(model.prompts, [examples[i] for i in pick])
        out = model.forward_stage1(batch)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step == 1 or step % 5 == 0:
            print(
                f"step {step:3d}  loss {out.loss.item():.4f}  "
                f"({out.num_tokens} answer tokens, {time.time() - t0:.0f} s)"
            )
    after = eval_loss()
    print(
        f"loss over all {len(examples)} examples: before {before:.4f} → after {args.steps} steps {after:.4f}"
    )
    model.eval()
    ex = model.prompts.stage1(
        {channels[0]: windows[0][channels[0]]},
        f"Describe the trend of the {channels[0]} channel.",
        None,
        system=default_system_prompt(len(windows[0][channels[0]]), rate),
    )
    print(
        "generation:", model.generate(collate(model.prompts, [ex], padding_side="left"), max_new_tokens=40)[0]
    )


if __name__ == "__main__":
    main()
