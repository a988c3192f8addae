"""``sensorllm demo``: the whole method end to end on the UCI HAPT subset shipped with the package.

prepare → qa → align (short) → tune (short) → evaluate → describe one window, each step the CLI command a
user would type, with the real SmolLM2-135M-Instruct (no pretrained time-series encoder exists here). The two
stages read different encoders, each the one its task needs (``docs/cli.md``, "The demo"): Stage 1 is a describing
model (a ``conv`` encoder trained from scratch, one token per sample, warmed on trend words, time marks, LoRA),
Stage 2 a classifier on the fitted ``rocket`` encoder, trained from its own start (the "without alignment" row,
which scores as well as from Stage 1 at this budget: ``docs/results.md``). The last step describes one test
window with constrained decoding (``describe --constrained``), then a few seeded validation windows the same way,
and prints how many descriptions pass describe's check (segment lines and the right overall direction).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

from sensorllm.datasets import open_prepared

__all__ = ["run_demo", "check_line", "check_validation_windows", "DEMO_RAW", "register"]

DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"
CONFIGS = "demo"  # packaged with sensorllm (sensorllm.configs): the recommended configuration, minutes long
CHECK_WINDOWS = 8  # seeded validation windows whose descriptions the last step checks
DESCRIBE_LENGTH = 40  # samples described per window (0.8 s at 50 Hz)
DESCRIBE_TOKENS = 120  # new tokens per description (greedy)
CONSTRAINED = True  # the demo's descriptions keep to the answer grammar (describe --constrained)


def _step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def check_line(rate: dict, what: str) -> str:
    """The line the demo prints for :func:`~sensorllm.serve.predict.check_rate`'s counts."""
    n = rate["n"]
    pct = 100 * rate["passed"] / n if n else 0.0
    return (f"-- check over {what}: {rate['passed']}/{n} pass ({pct:.0f} %; segment lines and the right overall "
            f"direction): segment lines in {rate['segment_lines']}/{n}, overall direction right in "
            f"{rate['overall_right']}/{n}; {rate['time_outside']}/{n} name a time after the last sample")


def check_validation_windows(model_dir: str | Path, data: str | Path, n: int = CHECK_WINDOWS, seed: int = 0,
                             length: int = DESCRIBE_LENGTH, max_new_tokens: int = DESCRIBE_TOKENS,
                             constrained: bool = CONSTRAINED) -> dict:
    """Describe ``n`` seeded validation windows (one channel each, their first ``length`` samples) with the
    Stage-1 model in ``model_dir`` (greedy, ``max_new_tokens``, inside the answer grammar when ``constrained``),
    print the check's pass rate and its parts, and return :func:`~sensorllm.serve.predict.check_rate`'s counts
    with the descriptions (``results``)."""
    from sensorllm.infer.artifact import load_sensorllm
    from sensorllm.serve.predict import check_rate, describe_sample

    model, meta = load_sensorllm(model_dir, "auto")  # as `sensorllm describe` does
    results = describe_sample(model, meta, open_prepared(data), "val", n, seed, length, max_new_tokens,
                              constrained=constrained)
    rate = check_rate([r["check"] for r in results])
    what = f"{rate['n']} seeded validation windows (one channel each, up to {length} samples)"
    print(check_line(rate, what), flush=True)
    return {**rate, "results": results}


def run_demo(out: str | Path = "runs/demo", eval_limit: int | None = 200,
             config_dir: str | Path = CONFIGS, check_windows: int = CHECK_WINDOWS) -> dict:
    """Run the demo into ``out``; ``config_dir``: a folder with ``stage1.yaml`` and ``stage2.yaml`` or the name
    of a packaged configuration (their paths are set here); ``check_windows``: validation windows described and
    checked after the one shown (0: none)."""
    from sensorllm.configs import config_folder

    def main(argv: list[str]) -> None:
        """One step: the `sensorllm` command line a user would type, in its own process. Each training run then
        starts from a fresh process state, as a typed command does (accelerate keeps one mixed-precision setting
        per process: Stage 1 trains in bf16, Stage 2 in fp32)."""
        rc = subprocess.run([sys.executable, "-m", "sensorllm.cli.main", *argv], check=False).returncode
        if rc != 0:
            raise SystemExit(f"sensorllm demo: the step `sensorllm {' '.join(argv)}` failed (exit code {rc})")

    out = Path(out)
    cfg_dir = config_folder(config_dir)
    t0 = time.time()
    data = out / "data"
    _step("1/6 prepare: packaged UCI HAPT subset (subjects 1-5, CC BY 4.0) → windows")
    main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(data), "-q"])
    _step("2/6 qa: annotation-free texts from the data itself")
    main(["qa", "--data", str(data), "--out", str(out / "qa"), "--stage", "1", "--split", "val"])
    rec = json.loads((out / "qa" / "stage1_val.jsonl").open().readline())
    print(f"example Stage-1 QA ({rec['description']}):\nQ: {rec['question']}\nA: {rec['answer'][:200]}...",
          flush=True)
    common = ["--data", str(data), f"run.cache_dir={json.dumps(str(out / 'embcache'))}"]
    _step("3/6 align (Stage 1, short: a model that describes a channel's trends)")
    main(["align", "--config", str(cfg_dir / "stage1.yaml"), "--out", str(out / "stage1"), *common])
    # Stage 2 reads another encoder than the describing model (module docstring), so it starts on its own
    _step("4/6 tune (Stage 2, short, its own start, selected on validation F1-macro)")
    main(["tune", "--config", str(cfg_dir / "stage2.yaml"), "--out", str(out / "stage2"), *common,
          "init_from=null"])
    _step("5/6 evaluate on the test subjects (2, 4)")
    args = ["evaluate", "--model", str(out / "stage2"), "--data", str(data), "--split", "test"]
    main(args + (["--limit", str(eval_limit)] if eval_limit else []))
    metrics = json.loads((out / "stage2" / "eval-test" / "metrics.json").read_text())
    _step("6/6 describe one test window with the Stage-1 model"
          + (f", then check {check_windows} validation windows" if check_windows else ""))
    d = open_prepared(data)
    w = np.asarray(d.stage2("test").windows[0])
    np.savez(out / "test_window.npz", **{n: w[:, j] for j, n in enumerate(d.channel_names)})
    main(["describe", "--model", str(out / "stage1"), str(out / "test_window.npz"), "--channel", "x_acc",
          "--length", str(DESCRIBE_LENGTH), "--max-new-tokens", str(DESCRIBE_TOKENS)]
         + (["--constrained"] if CONSTRAINED else []))
    checked = check_validation_windows(out / "stage1", data, check_windows) if check_windows else None
    total = time.time() - t0
    print(f"\n=== done in {total / 60:.1f} min ===")
    print(f"test F1-macro {metrics['f1_macro']:.3f}, accuracy {metrics['accuracy']:.3f} on {metrics['n']} windows "
          "(no pretrained time-series encoder; a short CPU run, not the paper's setting)")
    if checked is not None:
        print(f"descriptions: {checked['passed']}/{checked['n']} seeded validation windows pass describe's check "
              "(what it means: docs/cli.md, \"The demo\")")
    print(f"report: {out / 'stage2' / 'eval-test' / 'report.md'}")
    return {"f1_macro": metrics["f1_macro"], "accuracy": metrics["accuracy"], "minutes": total / 60,
            "check": None if checked is None else {k: v for k, v in checked.items() if k != "results"}}


def _run(args: argparse.Namespace) -> int:
    run_demo(args.out, None if args.eval_limit == 0 else args.eval_limit, args.configs, args.check_windows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end demo on the packaged UCI HAPT subset (real SmolLM2-135M)",
                       description=__doc__)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--eval-limit", type=int, default=200, help="seeded subset of test windows (0 = all 618)")
    p.add_argument("--configs", default=CONFIGS,
                   help="folder with stage1.yaml and stage2.yaml, or the name of a configuration packaged with "
                        "sensorllm (default: demo, the recommended configuration at a budget of minutes)")
    p.add_argument("--check-windows", type=int, default=CHECK_WINDOWS,
                   help="seeded validation windows (one channel each) the Stage-1 model describes after the test "
                        f"window, to print how many pass describe's check (default {CHECK_WINDOWS}; 0 = none)")
    p.set_defaults(func=_run)
