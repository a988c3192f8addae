"""The committed long-run scripts print their plans without running anything (what a GPU session or a
sitting would do), so they stay in step with the CLI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_full_budget_dry_run_lists_stage1_stage2_and_test_per_row():
    out = _run("benchmarks/full_budget.py", "--dry-run", "--epochs", "2", "--tag", "t", "--seeds", "0", "1")
    lines = [ln for ln in out.splitlines() if ln.startswith("$ ")]
    assert len(lines) == 2 * (3 + 2 + 3)  # two seeds; rows with Stage 1 have 3 commands, without it 2
    assert sum("align --config configs/recommended/uci-har/stage1.yaml" in ln for ln in lines) == 4
    assert all("optim.epochs=2.0" in ln for ln in lines if " tune " in ln)
    assert sum("init_from=null" in ln for ln in lines) == 2


def test_learning_proxy_dry_run_builds_every_variant_on_the_same_subsets():
    out = _run("benchmarks/learning_proxy.py", "--dry-run", "--only", "old-default", "recommended")
    lines = [ln for ln in out.splitlines() if ln.startswith("$ ")]
    assert len(lines) <= 2 and all("data.max_train_examples=2000" in ln for ln in lines)


def test_gpu_session_dry_runs():
    assert "in 4 parts" in _run("benchmarks/gpu_session.py", "pack", "--dry-run")
    out = _run("benchmarks/gpu_session.py", "run", ".carry/d", "--dry-run")
    assert "full_budget.py" in out and "run.mixed_precision=bf16" in out and "prepare uci-har" in out
    assert "learning_proxy.py" in out and "--only paper-layout" in out and "records-learning.tar.gz" in out
