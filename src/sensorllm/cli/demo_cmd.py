"""``sensorllm demo``: the whole method end to end on the UCI HAPT subset shipped with the package.

prepare → qa → align (short) → tune (short) → evaluate → describe one window, each step the CLI command a
user would type, with the real SmolLM2-135M-Instruct and a seeded random-init Chronos-T5-tiny (no pretrained
Chronos weights exist here).
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

from sensorllm.datasets import open_prepared

from . import eval_cmds, prepare_cmd, qa_cmd, train_cmds
from .dispatch import build_parser, run

__all__ = ["run_demo", "DEMO_RAW", "register"]

DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"
CONFIGS = "demo"  # packaged with sensorllm (sensorllm.configs): the recommended configuration, minutes long


_STEP_COMMANDS = (prepare_cmd, qa_cmd, train_cmds, eval_cmds)  # prepare, qa, align, tune, evaluate, describe


def _step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run_demo(out: str | Path = "runs/demo", eval_limit: int | None = 200,
             config_dir: str | Path = CONFIGS) -> dict:
    """Run the demo into ``out``; ``config_dir``: a folder with ``stage1.yaml`` and ``stage2.yaml`` or the name
    of a packaged configuration (their paths are set here)."""
    from sensorllm.configs import config_folder

    def main(argv: list[str]) -> int:  # the commands the steps run, as `sensorllm` runs them
        return run(build_parser(_STEP_COMMANDS), argv)

    out = Path(out)
    cfg_dir = config_folder(config_dir)
    t0 = time.time()
    data = out / "data"
    _step("1/6 prepare: packaged UCI HAPT subset (subjects 1-5, CC BY 4.0) → windows")
    assert main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(data), "-q"]) == 0
    _step("2/6 qa: annotation-free texts from the data itself")
    assert main(["qa", "--data", str(data), "--out", str(out / "qa"), "--stage", "1", "--split", "val"]) == 0
    rec = json.loads((out / "qa" / "stage1_val.jsonl").open().readline())
    print(f"example Stage-1 QA ({rec['description']}):\nQ: {rec['question']}\nA: {rec['answer'][:200]}...")
    common = ["--data", str(data), f"run.cache_dir={json.dumps(str(out / 'embcache'))}"]
    _step("3/6 align (Stage 1, short)")
    assert main(["align", "--config", str(cfg_dir / "stage1.yaml"), "--out", str(out / "stage1"), *common]) == 0
    _step("4/6 tune (Stage 2, short, selected on validation F1-macro)")
    assert main(["tune", "--config", str(cfg_dir / "stage2.yaml"), "--out", str(out / "stage2"),
                 "--init-from", str(out / "stage1" / "model"), *common]) == 0
    _step("5/6 evaluate on the test subjects (2, 4)")
    args = ["evaluate", "--model", str(out / "stage2"), "--data", str(data), "--split", "test"]
    assert main(args + (["--limit", str(eval_limit)] if eval_limit else [])) == 0
    metrics = json.loads((out / "stage2" / "eval-test" / "metrics.json").read_text())
    _step("6/6 describe one test window with the Stage-1 model")
    d = open_prepared(data)
    w = np.asarray(d.stage2("test").windows[0])
    np.savez(out / "test_window.npz", **{n: w[:, j] for j, n in enumerate(d.channel_names)})
    assert main(["describe", "--model", str(out / "stage1"), str(out / "test_window.npz"), "--channel", "x_acc",
                 "--length", "40", "--max-new-tokens", "120"]) == 0
    total = time.time() - t0
    print(f"\n=== done in {total / 60:.1f} min ===")
    print(f"test F1-macro {metrics['f1_macro']:.3f}, accuracy {metrics['accuracy']:.3f} on {metrics['n']} windows "
          f"(random-init Chronos encoder; a short CPU run, not the paper's setting)")
    print(f"report: {out / 'stage2' / 'eval-test' / 'report.md'}")
    return {"f1_macro": metrics["f1_macro"], "accuracy": metrics["accuracy"], "minutes": total / 60}


def _run(args: argparse.Namespace) -> int:
    run_demo(args.out, None if args.eval_limit == 0 else args.eval_limit, args.configs)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end demo on the packaged UCI HAPT subset (real SmolLM2-135M)",
                       description=__doc__)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--eval-limit", type=int, default=200, help="seeded subset of test windows (0 = all 618)")
    p.add_argument("--configs", default=CONFIGS,
                   help="folder with stage1.yaml and stage2.yaml, or the name of a configuration packaged with "
                        "sensorllm (default: demo, the recommended configuration at a budget of minutes)")
    p.set_defaults(func=_run)
