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
    # two seeds; rows with Stage 1 (rocket, rocket-no-text, chronos, chronos-no-text) have 3 commands, the four
    # without it 2
    assert len(lines) == 2 * (4 * 3 + 4 * 2)
    assert sum("align --config configs/recommended/uci-har/stage1.yaml" in ln for ln in lines) == 8
    assert all("optim.epochs=2.0" in ln for ln in lines if " tune " in ln)
    assert sum("init_from=null" in ln for ln in lines) == 8
    assert sum("encoder.kind=conv encoder.trainable=true" in ln for ln in lines) == 2
    assert sum("encoder.kind=chronos encoder.trainable=false" in ln for ln in lines) == 2 * (2 + 3)
    # rocket and rocket-no-text: Stage 1 and Stage 2 each; the two rocket rows without Stage 1: Stage 2
    assert sum("encoder.kind=rocket encoder.trainable=false" in ln for ln in lines) == 2 * 6
    # the rocket Stage 1 has its own runs, shared by rocket and rocket-no-text, whose Stage 2 starts from them
    # with the same encoder fit length; the Chronos rows keep their old Stage-1 folders
    rocket_s1 = [ln for ln in lines if " align " in ln and "encoder.kind=rocket" in ln]
    assert len(rocket_s1) == 4 and all("stage1-rocket-ctx200-seed" in ln for ln in rocket_s1)
    assert sum("run.out_dir=" in ln and "/stage1-seed" in ln for ln in lines if " align " in ln) == 4
    assert all("encoder.context_length=200" in ln for ln in lines if "stage1-rocket-ctx200-seed0/model" in ln)

def test_learning_proxy_dry_run_builds_every_variant_on_the_same_subsets():
    out = _run("benchmarks/learning_proxy.py", "--dry-run", "--only", "old-default", "recommended")
    lines = [ln for ln in out.splitlines() if ln.startswith("$ ")]
    assert len(lines) <= 2 and all("data.max_train_examples=2000" in ln for ln in lines)


def test_gpu_session_dry_runs():
    assert "in 2 parts" in _run("benchmarks/gpu_session.py", "pack", "--dry-run")
    out = _run("benchmarks/gpu_session.py", "run", ".carry/c", "--dry-run")
    assert "prepare uci-har" in out and "records.tar.gz" in out
    runs = [ln for ln in out.splitlines() if ln.startswith("$ ") and ("benchmarks/" in ln or " align " in ln)]
    # the recommended row at the paper's budget comes first, in bf16, then the Stage-1 probe
    assert "full_budget.py" in runs[0] and "--rows rocket --seeds 0" in runs[0] and "--epochs 8" in runs[0]
    assert "run.mixed_precision=bf16" in runs[0]
    assert " align " in runs[1] and "trend_word_weight=10" in runs[1] and "trend_tokens.steps=1500" in runs[1]
    assert any("learning_proxy.py" in ln and "--seeds 0 1" in ln for ln in runs)


def test_learning_proxy_keeps_and_restores_an_unfinished_run(tmp_path, monkeypatch):
    """A run too long for one sitting: its newest checkpoint (and its logs up to that step) goes into the
    records, and a fresh run directory starts from it; an existing checkpoint in the run is never overwritten."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import learning_proxy as lp

    monkeypatch.setattr(lp, "RECORDS", tmp_path / "records")
    run = tmp_path / "run"
    for step in (25, 50):
        (run / "checkpoints" / f"step-{step:06d}" / "model").mkdir(parents=True)
        (run / "checkpoints" / f"step-{step:06d}" / "model" / "w.safetensors").write_text(str(step))
    (run / "checkpoints" / "latest").write_text("step-000050\n")
    (run / "train_log.csv").write_text("step,loss\n10,2.0\n50,1.5\n60,1.4\n")
    args = lp.argparse.Namespace(train=2000, val=300, windows_seen=1200, batch=8, eval_every=150, save_every=25,
                                 threads=2)
    assert lp.save_partial("paper-layout", 0, run, lp.resume_command("paper-layout", 0, args)) == 50
    kept = lp.partial_path("paper-layout", 0)
    resume = (kept / "resume.txt").read_text()  # the settings it was started with, so a resume matches them
    assert "--only paper-layout --seeds 0" in resume and "--eval-every 150 --save-every 25" in resume
    assert lp.partial_step("paper-layout", 0) == 50
    assert not (kept / "checkpoints" / "step-000025").exists()  # only the newest checkpoint is kept
    assert (kept / "train_log.csv").read_text().split() == ["step,loss", "10,2.0", "50,1.5"]  # step 60 is redone

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    lp.restore_partial("paper-layout", 0, fresh)
    assert (fresh / "checkpoints" / "latest").read_text().strip() == "step-000050"
    assert (fresh / "checkpoints" / "step-000050" / "model" / "w.safetensors").read_text() == "50"

    (run / "checkpoints" / "latest").write_text("step-000025\n")  # a run with its own checkpoint keeps it
    lp.restore_partial("paper-layout", 0, run)
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-000025"
    assert lp.save_partial("paper-layout", 0, tmp_path / "empty", "") is None


def test_pretrain_curve_dry_run_trains_probes_on_validation_and_tests_once():
    out = _run("benchmarks/pretrain_curve.py", "--dry-run", "--out", "runs/none-such", "--data", "runs/none-such/data",
               "--records", "runs/none-such/records", "--snapshot-every", "500")
    lines = [ln for ln in out.splitlines() if ln.startswith("$ ")]
    assert len(lines) == 4 and "prepare uci-har" in lines[0]
    assert "pretrain-encoder --config configs/here/uci-har/pretrain-encoder-all.yaml" in lines[1]
    assert "run.out_dir=runs/none-such/pretrain" in lines[1] and "run.snapshot_every=500" in lines[1]
    assert "run.max_time_s=3600" in lines[1] and "data.prepared=runs/none-such/data" in lines[1]
    snap = "runs/none-such/pretrain/snapshots/step-NNNNNN"
    assert f"pretrain_curve.py probe --model {snap}" in lines[2]
    assert "--record runs/none-such/records/step-NNNNNN.json" in lines[2]
    assert "baseline chronos-mlp --data runs/none-such/data" in lines[3]
    assert f"--model-arg pretrained={snap}" in lines[3]


def test_pretrain_curve_stops_on_validation_and_picks_the_earliest_best():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pretrain_curve as pc

    pts = [{"step": s, "val_f1_macro": f} for s, f in ((0, 0.5), (500, 0.7), (1000, 0.7), (1500, 0.6))]
    assert pc.best_point(pts)["step"] == 500  # ties: the earliest
    running = {"steps": 1500, "max_steps": 20000, "stopped_by_time_budget": True, "stopped_by_patience": False}
    assert pc.done_reason(pts, running, patience=3) is None
    assert "2 probed snapshots after step 500" in pc.done_reason(pts, running, patience=2)
    assert "stopped on its validation loss" in pc.done_reason(pts, {**running, "stopped_by_patience": True}, 3)
    finished = {**running, "steps": 20000, "stopped_by_time_budget": False}
    assert "finished (20000 steps)" in pc.done_reason(pts, finished, 3)
    assert pc.done_reason([], {}, 3) is None


def test_pretrain_curve_scores_the_test_split_only_once(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pretrain_curve as pc

    (tmp_path / "test.json").write_text('{"step": 500, "f1_macro": 0.8}')
    monkeypatch.setattr(pc, "run_logged", lambda *a: (_ for _ in ()).throw(AssertionError("ran a command")))
    args = pc.argparse.Namespace(records=str(tmp_path), config="c.yaml", out=tmp_path, data=tmp_path, seed=0,
                                 threads=1)
    pc.score_test_once({"step": 1000, "model": str(tmp_path / "step-001000"), "val_f1_macro": 0.9}, "done", args)
    assert "test already scored once, at step 500" in capsys.readouterr().out
