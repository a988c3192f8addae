"""Fault suite: SIGKILL during `tune` then resume reaches the same model as an uninterrupted run; the same
seed twice gives an identical metrics.json."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from sensorllm.cli.main import main

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny" / "stage2.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    raw = files("sensorllm") / "demo_data" / "uci-hapt-subset"
    assert main(["prepare", "uci-har", "--raw", str(raw), "--out", str(root / "data"), "-q"]) == 0
    return root


def _tune_cmd(root: Path, out: str) -> list[str]:
    return [sys.executable, "-m", "sensorllm.cli.main", "tune", "--config", str(CONFIG), "init_from=null",
            f"data.prepared={root / 'data'}", f"run.out_dir={root / out}", f"run.cache_dir={root / 'cache'}",
            "optim.max_steps=6", "run.save_every=1", "run.eval_every=3", "data.max_val_examples=6"]


def _weights(run: Path) -> dict:
    from safetensors.numpy import load_file
    return load_file(str(run / "checkpoints" / "step-000006" / "model" / "weights.safetensors"))


def test_sigkill_then_resume_matches_uninterrupted(data):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(_tune_cmd(data, "whole"), check=True, env=env, capture_output=True)
    kill_after = random.Random(os.getpid()).randint(1, 4)
    proc = subprocess.Popen(_tune_cmd(data, "killed"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = data / "killed" / "checkpoints" / "latest"
    deadline = time.time() + 240
    while time.time() < deadline:
        if latest.exists() and int(latest.read_text().split("-")[1]) >= kill_after:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (data / "killed" / "train_summary.json").exists(), "the run finished before it could be killed"
    subprocess.run(_tune_cmd(data, "killed"), check=True, env=env, capture_output=True)
    summary = json.loads((data / "killed" / "train_summary.json").read_text())
    assert summary["resumed_from"] is not None and summary["resumed_from"] >= kill_after
    a, b = _weights(data / "whole"), _weights(data / "killed")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    va = json.loads((data / "whole" / "metrics_val.json").read_text())
    vb = json.loads((data / "killed" / "metrics_val.json").read_text())
    assert va == vb


def test_same_seed_gives_identical_metrics_json(data):
    outs = []
    for name in ("seed-a", "seed-b"):
        assert main(["tune", "--config", str(CONFIG), "init_from=null", f"data.prepared={data / 'data'}",
                     f"run.out_dir={data / name}", f"run.cache_dir={data / ('cache-' + name)}",
                     "data.max_val_examples=6"]) == 0
        assert main(["evaluate", "--model", str(data / name), "--data", str(data / "data"), "--limit", "10"]) == 0
        outs.append((data / name / "eval-test" / "metrics.json").read_bytes())
    assert outs[0] == outs[1]
