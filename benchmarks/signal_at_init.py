"""Where the window's signal is at initialisation (leads 1 and 2 of the learning issue), measured.

For 64 seeded UCI-HAR validation windows, each with two independent text draws (text seeds 0 and 1, which
change the question's phrasing but not the statistics), it reads the Stage-2 head's input of an untrained
model and splits its window-to-window variance into the part that follows the text draw (within a window)
and the rest. It also reports the RMS of text-token embeddings against the projected sensor tokens and their
token-to-token varying part, with and without ``projector.normalize``. Random-init Chronos-T5-tiny,
SmolLM2-135M-Instruct.

    python benchmarks/signal_at_init.py [--data runs/uci-har/data] [--windows 64]

Writes ``benchmarks/records/learning/signal_at_init.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import torch
from _common import ROOT, ensure_prepared

OUT = ROOT / "benchmarks" / "records" / "learning" / "signal_at_init.json"

SETTINGS = {
    "paper layout, statistics + question (old default, mean scaling)":
        dict(layout="paper", text="smry+Q", normalize=False, head="last", layers=None),
    "text first, compact statistics, last token (8 layers)":
        dict(layout="text_first", text="stats", normalize=False, head="last", layers=8),
    "recommended: + normalised projector, last token + channel means":
        dict(layout="text_first", text="stats", normalize=True, head="last+channel_mean", layers=8),
}


def measure(data, setting: dict, windows: int) -> dict:
    from dataclasses import replace

    from sensorllm.data import TextSettings, collate_items, stage2_items, window_items
    from sensorllm.infer.stage2 import head_features
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.model.series_tokenizer import TokenizerConfig

    cfg = SensorLLMConfig(
        channels=tuple(data.channel_names), labels=tuple(data.class_names),
        llm=LLMConfig(name="smollm2-135m", num_layers=setting["layers"]),
        encoder=EncoderConfig(size="tiny", tokenizer=TokenizerConfig(kind="mean_scale")),
        projector=ProjectorConfig(preset="paper", pool=8 if setting["layout"] == "paper" else 16,
                                  normalize=setting["normalize"]),
        stage2_layout=setting["layout"], head_input=setting["head"])
    model = build_sensor_llm(cfg)
    feats = []
    # TextSettings' default normalized=True: the texts of the record (written before the question's
    # "normalized" followed the encoder's normalizes_series)
    first = stage2_items(data, "val", TextSettings(setting["text"], "tolerant", seed=0), windows)
    for seed in (0, 1):  # the same windows (the subset is seeded by 0), two text draws
        items = first
        if seed:  # the texts of the same windows drawn with text seed 1 (each window's text has its own seed)
            redraw = window_items(data.stage2("val").windows[first.indices], data.channels, data.rate_hz,
                                  TextSettings(setting["text"], "tolerant", seed=seed), indices=first.indices,
                                  key="val")
            items = replace(first, texts=redraw.texts)
        feats.append(head_features(model, items, 8).double())
    f = torch.stack(feats)  # (2 draws, N, F)
    total = f.reshape(-1, f.shape[-1]).var(0, unbiased=False).sum()
    within = ((f[0] - f[1]) ** 2 / 4).mean(0).sum()  # variance between the two draws of a window
    energy = f.pow(2).mean((0, 1)).sum()
    batch = collate_items(model.prompts, items[:8], labels=False)
    model.train()  # the embedding diagnostics are measured in training mode (the frozen LLM stays in eval)
    with torch.no_grad():
        model.build_inputs_embeds(batch)
    return {"text_draw_share_of_variance": float(within / total), "window_share_of_variance": float(1 - within / total),
            "shared_share_of_energy": float(1 - total / energy), **model.signal_stats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--windows", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from sensorllm.datasets import open_prepared

    data = open_prepared(ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.data.parent / "prepare.log"))
    rows = {}
    for name, setting in SETTINGS.items():
        rows[name] = {**setting, **measure(data, setting, args.windows)}
        r = rows[name]
        print(f"{name}: text draw {r['text_draw_share_of_variance']:.1%} / window {r['window_share_of_variance']:.1%} "
              f"of the head input's variance; shared part {r['shared_share_of_energy']:.1%} of its energy; "
              f"sensor varying RMS {r['sensor_rms_varying']:.4f}, sensor RMS {r['sensor_rms']:.4f}, "
              f"text RMS {r['text_rms']:.4f}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"date": dt.date.today().isoformat(), "windows": args.windows,
                               "command": "python benchmarks/signal_at_init.py", "rows": rows}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
