"""Cost of a Stage-2 training sample: the paper's layout, the old CPU configuration and the recommended one,
measured side by side in one run (issue "Ten times cheaper").

Each configuration runs ``sensorllm tune`` for ``--steps`` steps of batch ``--batch`` on ``--windows`` seeded
UCI-HAR training windows (SmolLM2-135M-Instruct, random-init Chronos-T5-tiny; speed does not depend on the
weight values), in a child process whose RSS is sampled (psutil). Stage 2 trains what it trains after
Stage 1 (projector and head; ``train_token_rows=false``, since a Stage-1 checkpoint is not needed for timing). Steps of the first epoch fill the frozen
encoder's embedding cache; the reported cost is the mean over the later steps (cache warm), as in every epoch
after the first of a real run. The proxy's validation F1-macro of the same configuration is shown beside it
when ``benchmarks/records/learning`` has it.

    python benchmarks/bench_cost.py --data runs/uci-har/data

Writes ``benchmarks/records/performance/train_cost.json`` and the table between the markers of
``docs/performance.md`` (``--doc-only`` rewrites the table from the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

from _common import ROOT, checkpoint_step, ensure_prepared, read_csv_floats, replace_between, run_peak_rss

RECORD = ROOT / "benchmarks" / "records" / "performance" / "train_cost.json"
LEARNING = ROOT / "benchmarks" / "records" / "learning"
DOC = ROOT / "docs" / "performance.md"
# name → (config, overrides, what it is, the proxy variant with its F1)
CONFIGS = {
    "paper-layout": ("configs/here/uci-har/stage2.yaml", ("projector.pool=1",),
                     "the paper's layout: one sensor token per sample (k = 1), statistics with 8 decimals + "
                     "question, all 30 layers", "paper-layout"),
    "here-k8": ("configs/here/uci-har/stage2.yaml", (), "the old CPU configuration (`configs/here`): k = 8, "
                "same text, 30 layers", "old-default"),
    # as shipped: the fitted rocket encoder (not trained, not cached: its features are computed for every sample,
    # forward only; its series length is taken from the data)
    "recommended": ("configs/recommended/uci-har/stage2.yaml", (), "`configs/recommended` as shipped: the fitted "
                    "`rocket` encoder (MiniRocket features, 4 tokens per channel), compact statistics first, 8 layers, "
                    "channel-mean head", "rec-rocket"),
    # the trained conv encoder instead (no embedding cache: it runs forward and backward every sample)
    "recommended-conv": ("configs/recommended/uci-har/stage2.yaml",
                         ("encoder.kind=conv", "encoder.trainable=true", "encoder.tokenizer=null", "projector.pool=1"),
                         "recommended with the trained `conv` encoder (1-D CNN per channel, 8 tokens per channel)",
                         "rec-conv"),
}


def measure(name: str, args, tmp: Path) -> dict:
    config, overrides, _, _ = CONFIGS[name]
    out = tmp / name
    cmd = [sys.executable, "-m", "sensorllm.cli.main", "tune", "--config", str(ROOT / config),
           f"data.prepared={args.data}", "init_from=null", "train_token_rows=false",
           f"data.max_train_examples={args.windows}",
           "data.max_val_examples=2", f"optim.max_steps={args.steps}", f"optim.batch_size={args.batch}",
           "optim.grad_accum=1", "head_stats_windows=8", f"run.out_dir={out}", f"run.cache_dir={tmp / 'cache'}",
           f"run.eval_every={10**6}", f"run.save_every={10**6}", "run.log_every=1", f"run.threads={args.threads}",
           *overrides]
    with open(tmp / f"{name}.log", "w") as fh:
        code, peak = run_peak_rss(cmd, stdout=fh)
    if code != 0:
        raise RuntimeError(f"{name}: tune failed ({code}); see the log: {(tmp / f'{name}.log').read_text()[-2000:]}")
    rows = read_csv_floats(out / "train_log.csv")
    warm = [r["examples_per_s"] for r in rows[args.windows // args.batch:]]
    return {"name": name, "config": config, "overrides": list(overrides), "s_per_sample": len(warm) / sum(warm),
            "peak_rss_gib": peak / 2**30, "warm_steps": len(warm)}


def proxy_f1(variant: str) -> str:
    recs = [json.loads(p.read_text()) for p in sorted((LEARNING / variant).glob("seed*.json"))]
    if not recs:
        kept = sorted((LEARNING / variant).glob("partial-seed*/checkpoints/latest"))
        if kept:
            step, where = checkpoint_step(kept[0]), kept[0].parents[1]
            resume = where / "resume.txt"
            cmd = (resume.read_text().strip() if resume.exists()
                   else f"python benchmarks/learning_proxy.py --only {variant}")
            return (f"not finished: stopped at step {step}, checkpoint kept in `{where.relative_to(ROOT)}`; "
                    f"`{cmd}` resumes it")
        return f"not run yet (`python benchmarks/learning_proxy.py --only {variant}`)"
    return f"{sum(r['best_val_f1_macro'] for r in recs) / len(recs):.3f} (`{variant}`, {len(recs)} seed(s))"


def write_doc(rec: dict) -> None:
    rows = {r["name"]: r for r in rec["rows"]}
    base_k8, base_k1 = rows["here-k8"]["s_per_sample"], rows["paper-layout"]["s_per_sample"]
    lines = [f"`{rec['command']}` ({rec['date']}; {rec['threads']} thread(s), batch {rec['batch']}, "
             f"mean over {rows['recommended']['warm_steps']} steps with the encoder cache warm)", "",
             "| configuration | what | s per training sample | vs paper layout | vs `here` k = 8 | peak RSS "
             "| proxy validation F1-macro |", "|---|---|---|---|---|---|---|"]
    for name, (_, _, what, variant) in CONFIGS.items():
        if name not in rows:  # a configuration added after the record was made: measured at the next run
            continue
        r = rows[name]
        lines.append(f"| `{name}` | {what} | {r['s_per_sample']:.3f} | {base_k1 / r['s_per_sample']:.1f}× "
                     f"| {base_k8 / r['s_per_sample']:.1f}× | {r['peak_rss_gib']:.2f} GiB | {proxy_f1(variant)} |")
    replace_between(DOC, "<!-- train cost table -->", "<!-- end train cost table -->", lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--only", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--windows", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--doc-only", action="store_true")
    args = ap.parse_args()
    if args.doc_only:
        write_doc(json.loads(RECORD.read_text()))
        return
    ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.data.parent / "prepare.log")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            r = measure(name, args, Path(tmp))
            print(f"{name}: {r['s_per_sample']:.3f} s/sample, peak RSS {r['peak_rss_gib']:.2f} GiB", flush=True)
            rows.append(r)
    rec = {"date": dt.date.today().isoformat(), "threads": args.threads, "batch": args.batch, "rows": rows,
           "command": "python benchmarks/bench_cost.py" + (f" --threads {args.threads}" if args.threads != 2 else "")
           + ("" if args.only == list(CONFIGS) else " --only " + " ".join(args.only))}
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(rec, indent=1) + "\n")
    if args.only == list(CONFIGS):
        write_doc(rec)


if __name__ == "__main__":
    main()
