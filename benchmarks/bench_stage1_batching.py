"""Stage-1 batching: padding waste of random micro-batches vs length-grouped ones (``optim.group_by_length``).

Stage-1 examples have windows of random length and answers of very different length, so a random batch pads
every sequence to the longest one. This counts, over one epoch of the seeded Stage-1 training examples, the
real and padded tokens the LLM processes per micro-batch order, and optionally times training steps of each.

    python benchmarks/bench_stage1_batching.py --data runs/uci-har/data --examples 2000 --batch-size 4
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--trend-mode", default="tolerant", choices=["exact", "tolerant"])
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--time-steps", type=int, default=0, help="also time this many training steps of each order")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from sensorllm.data import collate, stage1_items
    from sensorllm.datasets.prepared import open_prepared
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.train.loop import epoch_order

    torch.set_num_threads(args.threads)
    data = open_prepared(args.data)
    items = stage1_items(data, "train", 0, args.trend_mode, args.examples)
    model = build_sensor_llm(SensorLLMConfig(channels=tuple(data.channel_names), llm=LLMConfig(name="smollm2-135m"),
                                             encoder=EncoderConfig(size="tiny", seed=0),
                                             projector=ProjectorConfig(preset="paper", pool=args.pool)))
    exs = [model.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, it.answer) for it in items]
    lengths = np.array([len(e.input_ids) for e in exs])
    n, bs = len(exs), args.batch_size
    print(f"{n} Stage-1 examples ({args.trend_mode} trends, pool {args.pool}): tokens mean {lengths.mean():.0f}, "
          f"min {lengths.min()}, max {lengths.max()}")
    rows = {}
    for name, order in (("random", epoch_order(n, bs, 0, 0)), ("grouped", epoch_order(n, bs, 0, 0, lengths))):
        batches = [order[i : i + bs] for i in range(0, n - n % bs, bs)]
        real = sum(int(lengths[b].sum()) for b in batches)
        padded = sum(int(lengths[b].max()) * len(b) for b in batches)
        rows[name] = (real, padded, batches)
    print("| micro-batch order | real tokens | tokens incl. padding | padding share |")
    print("|---|---|---|---|")
    for name, (real, padded, _) in rows.items():
        print(f"| {name} | {real:,} | {padded:,} | {100 * (padded - real) / padded:.1f} % |")
    print(f"tokens processed, random / grouped: {rows['random'][1] / rows['grouped'][1]:.2f}x")
    if args.time_steps:
        model.enable_cache("runs/cache-bench")
        model.set_trainable(projector=True, token_rows=True, head=False)
        model.train()
        for name, (_, _, batches) in rows.items():
            pick = batches[: args.time_steps + 1]
            times = []
            for b in pick:
                t = time.perf_counter()
                model.forward_stage1(collate(model.prompts, [exs[i] for i in b])).loss.backward()
                model.zero_grad(set_to_none=True)
                times.append(time.perf_counter() - t)
            print(f"{name}: {np.mean(times[1:]):.2f} s per step over {args.time_steps} steps (first excluded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
