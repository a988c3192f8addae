"""``sensorllm compare`` on a small generic dataset (synthetic CSVs prepared with ``sensorllm prepare generic``):
two baselines and SensorLLM (configs/tiny, one seed) into a folder of their own; results table, CSV, JSON and
plot; resuming after an interruption (finished runs are not recomputed, an interrupted SensorLLM Stage 2
continues from its checkpoint)."""

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sensorllm.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny"
RATE = 20
FREQS = {"sitting": 0.0, "walking": 1.5, "running": 4.0}


def write_study(raw: Path, subjects: int = 6, seed: int = 0) -> Path:
    """One CSV per subject: 3 wrist-accelerometer channels in g, one block of 160 samples per class."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True)
    for k in range(1, subjects + 1):
        parts = []
        for label, f in FREQS.items():
            t = np.arange(160) / RATE
            s = np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) if f else np.zeros_like(t)
            parts.append(pd.DataFrame({"subject": f"s{k}", "label": label,
                                       "x_acc": 0.5 * s + 0.05 * rng.normal(size=t.size),
                                       "y_acc": -0.9 + 0.3 * s + 0.05 * rng.normal(size=t.size),
                                       "z_acc": 0.1 + 0.05 * rng.normal(size=t.size)}))
        pd.concat(parts).to_csv(raw / f"s{k}.csv", index=False)
    return raw


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    spec = {"name": "my-study", "rate_hz": RATE, "window": 40, "stride": 20, "stage1_window": [5, 40],
            "channels": [{"name": f"{a}_acc", "sensor": "acc", "axis": a, "placement": "wrist", "unit": "g"}
                         for a in "xyz"],
            "classes": list(FREQS), "test_subjects": ["s5", "s6"], "val_subjects": ["s4"]}
    (root / "spec.yaml").write_text(json.dumps(spec))
    raw = write_study(root / "raw")
    assert main(["prepare", "generic", "--spec", str(root / "spec.yaml"), "--raw", str(raw),
                 "--out", str(root / "data"), "-q"]) == 0
    return root / "data"


def _compare(data: Path, out: Path, methods: str, *extra: str) -> int:
    return main(["compare", "--data", str(data), "--methods", methods, "--seeds", "0", "--out", str(out),
                 "--sensorllm-config", str(TINY), "--baseline-set", "epochs=2", "--test-limit", "12", *extra])


def _rows(md: Path) -> dict[str, list[str]]:
    lines = [ln for ln in md.read_text().splitlines() if ln.startswith("| ") and not ln.startswith("| method")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in ln.strip("|").split("|")] for ln in lines)}


def test_compare_runs_resumes_and_writes_only_into_out(study, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cmp"
    before = sorted(p.name for p in tmp_path.iterdir())
    data_files = sorted(str(p) for p in study.rglob("*"))
    n_test = json.loads((study / "manifest.json").read_text())["splits"]["test"]["windows"]
    # first sitting: one baseline only
    assert _compare(study, out, "features-rf") == 0
    rf_metrics = out / "features-rf" / "seed0" / "metrics.json"
    stamp = rf_metrics.stat().st_mtime_ns
    assert set(_rows(out / "results.md")) == {"features-rf"}

    # second sitting, interrupted: SensorLLM's Stage 2 stops at step 2 of 4 (optim.max_steps) and the process
    # dies before the test scoring (no metrics.json: the job is not finished)
    import sensorllm.infer.evaluate as ev

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "evaluate", killed)
    with pytest.raises(KeyboardInterrupt):
        _compare(study, out, "features-rf,cnn1d,sensorllm", "--set2", "optim.max_steps=2")
    monkeypatch.undo()
    s2 = out / "sensorllm" / "seed0"
    assert (out / "cnn1d" / "seed0" / "metrics.json").exists()
    assert not (s2 / "metrics.json").exists()
    assert (out / "stage1-default" / "seed0" / "model" / "config.json").exists()
    assert json.loads((s2 / "train_summary.json").read_text())["steps"] == 2
    cnn_stamp = (out / "cnn1d" / "seed0" / "metrics.json").stat().st_mtime_ns
    s1_stamp = (out / "stage1-default" / "seed0" / "metrics.json").stat().st_mtime_ns

    # third sitting: the same command without the cut finishes what is missing and nothing else
    capsys.readouterr()
    assert _compare(study, out, "features-rf,cnn1d,sensorllm") == 0
    assert rf_metrics.stat().st_mtime_ns == stamp  # finished runs are not recomputed
    assert (out / "cnn1d" / "seed0" / "metrics.json").stat().st_mtime_ns == cnn_stamp
    assert (out / "stage1-default" / "seed0" / "metrics.json").stat().st_mtime_ns == s1_stamp  # Stage 1 reused
    summary = json.loads((s2 / "train_summary.json").read_text())
    assert summary["resumed_from"] == 2 and summary["steps"] == 4  # Stage 2 continued from its checkpoint
    m = json.loads((s2 / "metrics.json").read_text())
    assert m["n"] == 12 and 0 <= m["f1_macro"] <= 1 and m["trainable_params"] > 0
    assert m["train_time_s"] > summary["train_time_s"]  # Stage 1 counts too
    stdout = capsys.readouterr().out
    assert "[1/1] sensorllm seed 0" in stdout and "features-rf seed 0: running" not in stdout

    rows = _rows(out / "results.md")
    assert list(rows) == ["features-rf", "cnn1d", "sensorllm"]
    for name, cells in rows.items():
        seeds, f1, acc, windows, train_time = cells
        assert seeds == "1/1" and " ± 0.0" in f1 and " ± 0.0" in acc and float(train_time) >= 0
        assert windows == ("12" if name == "sensorllm" else str(n_test))  # baselines score every test window
    assert float(rows["features-rf"][1].split(" ± ")[0]) > 60  # the classes are easy
    with open(out / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [r["method"] for r in table] == list(rows) and table[2]["kind"] == "sensorllm"
    assert float(table[0]["f1_macro_pct"]) == pytest.approx(100 * json.loads(rf_metrics.read_text())["f1_macro"])
    doc = json.loads((out / "results.json").read_text())
    assert doc["dataset"] == "my-study" and doc["pending"] == [] and doc["failed"] == []
    assert doc["methods"][2]["per_seed"]["0"]["f1_macro"] == m["f1_macro"]
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "sensorllm compare --data" in (out / "results.md").read_text()
    # nothing was written outside --out (the prepared data and this test's folder are untouched)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*before, "cmp"})
    assert sorted(str(p) for p in study.rglob("*")) == data_files

    # a rerun with nothing left runs nothing; --table-only rewrites the table
    assert _compare(study, out, "features-rf,cnn1d,sensorllm", "--table-only") == 0
    assert list(_rows(out / "results.md")) == ["features-rf", "cnn1d", "sensorllm"]


def test_compare_refuses_bad_input_before_running(study, tmp_path, capsys):
    out = tmp_path / "bad"
    assert _compare(study, out, "features-rf,resnet") == 1
    assert "unknown method 'resnet'" in capsys.readouterr().err
    assert _compare(study, out, "features-rf,sensorllm", "--set", "optim.lrr=1") == 1
    assert "unknown key optim.lrr" in capsys.readouterr().err
    assert _compare(study, out, "sensorllm", "--set", "run.seed=3") == 1
    assert "the comparison sets" in capsys.readouterr().err
    assert not (out / "features-rf").exists()  # nothing ran: every configuration is checked first
    assert _compare(tmp_path / "nowhere", out, "features-rf") == 1
    assert "not a prepared dataset" in capsys.readouterr().err


def test_failed_run_is_reported_and_the_others_still_run(study, tmp_path, monkeypatch):
    import sensorllm.train.baseline as bt
    from sensorllm.compare import CompareSettings, Method, run_comparison

    real = bt.run_baseline

    def flaky(cfg, *a, **k):
        if cfg.baseline == "cnn1d":
            raise RuntimeError("boom")
        return real(cfg, *a, **k)

    monkeypatch.setattr(bt, "run_baseline", flaky)
    out = tmp_path / "fail"
    res = run_comparison(CompareSettings(data=study, out=out, baseline_set={"epochs": 1}),
                         [Method("cnn1d", baseline="cnn1d"), Method("features-rf", baseline="features-rf")],
                         log=lambda s: None)
    assert [r.method for r in res.rows] == ["features-rf"]
    assert res.failed == [{"method": "cnn1d", "seed": 0, "error": "RuntimeError: boom"}]
    assert "- cnn1d seed 0: RuntimeError: boom" in (out / "results.md").read_text()
    assert "Traceback" in (out / "cnn1d" / "seed0" / "log.txt").read_text()
    assert _compare(study, out, "cnn1d") == 1  # the command reports the failure in its exit code


def test_compare_defaults_to_the_packaged_recommended_configuration(study, tmp_path, capsys):
    """Without --sensorllm-config SensorLLM runs the recommended configuration packaged with sensorllm, on a
    dataset that is not UCI-HAR (3 channels at 20 Hz, 40-sample windows, its own classes): the configuration
    takes those from the data. Tiny models and a few steps keep it fast. Each stage's progress reaches the
    console, and the run prints where its configuration is, not the configuration."""
    from sensorllm.configs import packaged_dir
    from sensorllm.train.config import Stage2Config, config_to_dict, load_config

    out = tmp_path / "rec"
    fast = ["llm.name=tiny-random-llama", "llm.num_layers=null", "optim.max_steps=2", "data.max_train_examples=8",
            "data.max_val_examples=4", "run.log_every=1", "run.threads=1"]
    capsys.readouterr()
    assert main(["compare", "--data", str(study), "--methods", "sensorllm", "--seeds", "0", "--out", str(out),
                 "--test-limit", "6", "--set", *fast, "--set1", "eval_generate=0",
                 "--set2", "head_stats_windows=8"]) == 0
    rec = packaged_dir("recommended")
    settings = json.loads((out / "results.json").read_text())["settings"]
    assert settings["stage1_config"] == str(rec / "stage1.yaml")
    assert settings["stage2_config"] == str(rec / "stage2.yaml")
    run = out / "sensorllm" / "seed0"
    used = yaml.safe_load((run / "config.yaml").read_text())
    # exactly the packaged Stage 2 with the comparison's paths and this test's overrides
    expected = load_config(Stage2Config, rec / "stage2.yaml", [
        f"data.prepared={study}", "run.seed=0", f"run.cache_dir={out / 'embcache'}", *fast,
        f"init_from={out / 'stage1-default' / 'seed0' / 'model'}", "head_stats_windows=8", f"run.out_dir={run}"])
    # ... except the rocket encoder's series length, which Stage 2 takes from the Stage-1 model it starts from
    # (the longest Stage-1 window: Stage 2 keeps Stage 1's fit)
    stage1_used = yaml.safe_load((out / "stage1-default" / "seed0" / "config.yaml").read_text())
    want = config_to_dict(expected)
    assert want["encoder"]["kind"] == "rocket" and want["encoder"]["context_length"] is None
    want["encoder"]["context_length"] = stage1_used["encoder"]["context_length"]
    assert want["encoder"]["context_length"] >= 40  # at least the Stage-2 window
    assert used == want
    assert used["stage2_layout"] == "text_first" and used["data"]["preprocess_type"] == "stats"
    m = json.loads((run / "metrics.json").read_text())
    assert m["n"] == 6 and sorted(m["per_class"]) == sorted(FREQS)

    stdout = capsys.readouterr().out
    for line in ("[1/1] sensorllm seed 0: Stage 1 step 1/2, ", "[1/1] sensorllm seed 0: Stage 1 step 2/2, ",
                 "[1/1] sensorllm seed 0: Stage 1 done (2 steps", "[1/1] sensorllm seed 0: Stage 2 step 2/2, ",
                 "scoring the test split", " left\n"):
        assert line in stdout, line
    log = (run / "log.txt").read_text()
    assert f"(configuration: {run / 'config.yaml'})" in log and "\nprojector:\n" not in log
