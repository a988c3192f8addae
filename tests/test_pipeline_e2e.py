"""End to end through the CLI on tiny random models and a small real slice (the demo subset of UCI HAPT):
prepare → qa → align → tune → evaluate → predict → describe; and resume after an interruption."""

import json
import shutil
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from sensorllm.cli.main import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tiny"
DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    assert main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(root / "data"), "-q"]) == 0
    return root


def _common(work: Path, out: str) -> list[str]:
    return [f"data.prepared={work / 'data'}", f"run.out_dir={work / out}", f"run.cache_dir={work / 'cache'}"]


def test_full_pipeline(work, capsys):
    assert main(["qa", "--data", str(work / "data"), "--out", str(work / "qa"), "--stage", "2", "--split", "val"]) == 0
    assert (work / "qa" / "stage2_val.jsonl").stat().st_size > 0

    assert main(["align", "--config", str(CONFIGS / "stage1.yaml"), *_common(work, "s1")]) == 0
    s1 = work / "s1"
    for f in ("config.yaml", "train_log.csv", "metrics.json", "samples.jsonl", "model/config.json",
              "model/weights.safetensors", "checkpoints/latest"):
        assert (s1 / f).exists(), f
    gen = json.loads((s1 / "metrics.json").read_text())["generation"]
    assert gen["n"] == 2 and 0.0 <= gen["bleu1"] <= 1.0

    assert main(["tune", "--config", str(CONFIGS / "stage2.yaml"), *_common(work, "s2"),
                 f"init_from={s1 / 'model'}"]) == 0
    s2 = work / "s2"
    summary = json.loads((s2 / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["best_step"] in (2, 4)
    val = json.loads((s2 / "metrics_val.json").read_text())
    assert val["split"] == "val" and 0.0 <= val["f1_macro"] <= 1.0
    assert summary["trainable"]["token_rows"] == 0  # Stage 2 after Stage 1: token rows frozen (paper)

    capsys.readouterr()
    assert main(["evaluate", "--model", str(s2), "--data", str(work / "data"), "--limit", "12"]) == 0
    assert "F1-macro" in capsys.readouterr().out
    m = json.loads((s2 / "eval-test" / "metrics.json").read_text())
    assert m["n"] == 12 and set(m) >= {"accuracy", "f1_macro", "f1_weighted", "per_class", "confusion_matrix"}
    assert (s2 / "eval-test" / "confusion_matrix.png").exists()
    assert "RANDOM-INIT" in (s2 / "eval-test" / "report.md").read_text()

    # predict on a raw recording with shuffled column order and an extra column
    import pandas as pd

    from sensorllm.datasets import open_prepared
    d = open_prepared(work / "data")
    x = np.asarray(d.stage2("test").windows[:3]).reshape(-1, 6)
    df = pd.DataFrame({n: x[:, j] for j, n in enumerate(d.channel_names)})[d.channel_names[::-1]]
    df["timestamp"] = np.arange(len(df)) / d.rate_hz  # seconds at the model's rate (the rate check reads it)
    df.to_csv(work / "rec.csv", index=False)
    assert main(["predict", "--model", str(s2), str(work / "rec.csv"), "--out", str(work / "pred.csv")]) == 0
    pred = pd.read_csv(work / "pred.csv")
    assert len(pred) == (len(x) - 128) // 64 + 1
    assert np.allclose(pred.filter(like="p_").sum(axis=1), 1.0, atol=1e-3)
    gap = df.copy()
    gap.loc[10:12, "x_acc"] = np.nan      # short gap: interpolated
    gap.loc[200:240, "y_gyro"] = np.nan   # long gap: the windows touching it are skipped and reported
    gap.to_csv(work / "gap.csv", index=False)
    assert main(["predict", "--model", str(s2), str(work / "gap.csv"), "--out", str(work / "gap_pred.csv")]) == 0
    assert "skipped 2 windows with long gaps" in capsys.readouterr().err  # starts 128 and 192
    assert len(pd.read_csv(work / "gap_pred.csv")) == len(pred) - 2
    df.drop(columns=["z_gyro"]).to_csv(work / "bad.csv", index=False)
    assert main(["predict", "--model", str(s2), str(work / "bad.csv")]) == 1
    assert "missing channels ['z_gyro']" in capsys.readouterr().err

    assert main(["describe", "--model", str(s1), str(work / "rec.csv"), "--channel", "x_acc", "--length", "20",
                 "--max-new-tokens", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["channel"] == "x_acc" and out["end_s"] == pytest.approx(0.4)
    assert out["check"]["last_sample_s"] == pytest.approx(19 / 50) and out["check"]["segments_in_data"] >= 1

    # a Stage-1 window of the prepared dataset, checked against that window's own trends
    from sensorllm.datasets.prepared import open_prepared

    w3 = open_prepared(work / "data").stage1("test")[3]
    assert main(["describe", "--model", str(s1), "--data", str(work / "data"), "--window", "3", "--channel",
                 "y_gyro", "--max-new-tokens", "8"]) == 0
    text = capsys.readouterr().out
    assert f"({len(w3)} samples)" in text and "check against the window's own trends" in text
    assert "the data has " in text
    assert main(["describe", "--model", str(s1), "--data", str(work / "data"), "--window", "99999"]) == 1
    assert "window 99999 does not exist" in capsys.readouterr().err
    assert main(["describe", "--model", str(s1), "--data", str(work / "data"), str(work / "rec.csv"),
                 "--window", "1"]) == 1
    assert "one of them" in capsys.readouterr().err


def test_tune_resumes_from_checkpoint_and_matches_uninterrupted_run(work):
    args = ["tune", "--config", str(CONFIGS / "stage2.yaml"), "init_from=null", "data.max_val_examples=6"]
    assert main([*args, *_common(work, "full")]) == 0
    assert main([*args, *_common(work, "cut")]) == 0
    cut = work / "cut"
    # simulate a crash right after step 2: drop everything written later
    shutil.rmtree(cut / "checkpoints" / "step-000004")
    (cut / "checkpoints" / "latest").write_text("step-000002")
    for f in ("model", "metrics_val.json", "train_summary.json"):
        p = cut / f
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    before = json.loads((cut / "checkpoints" / "step-000002" / "trainer_state.json").read_text())["train_time_s"]
    assert main([*args, *_common(work, "cut")]) == 0
    s = json.loads((cut / "train_summary.json").read_text())
    assert s["resumed_from"] == 2 and s["steps"] == 4
    assert s["train_time_s"] > before > 0  # the clock carries on from the checkpoint instead of restarting
    from safetensors.numpy import load_file
    a = load_file(str(work / "full" / "checkpoints" / "step-000004" / "model" / "weights.safetensors"))
    b = load_file(str(cut / "checkpoints" / "step-000004" / "model" / "weights.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_corrupt_checkpoint_falls_back_to_previous(work, recwarn):
    args = ["tune", "--config", str(CONFIGS / "stage2.yaml"), "init_from=null", "data.max_val_examples=6"]
    assert main([*args, *_common(work, "corrupt")]) == 0
    run = work / "corrupt"
    w = run / "checkpoints" / "step-000004" / "model" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-16])  # half-written
    for f in ("model", "train_summary.json"):
        p = run / f
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    assert main([*args, *_common(work, "corrupt")]) == 0
    assert json.loads((run / "train_summary.json").read_text())["resumed_from"] == 2
    assert any("does not match its checksum" in str(x.message) for x in recwarn)


def test_tune_with_standardised_head(work):
    """head_standardize: statistics measured before Stage 2 from the training windows' last-token states,
    saved with the model, and used by evaluation after loading."""
    import torch

    from sensorllm.datasets import open_prepared
    from sensorllm.data import TextSettings, stage2_items
    from sensorllm.infer.stage2 import head_features
    from sensorllm.infer.artifact import load_sensorllm as load_model

    args = ["tune", "--config", str(CONFIGS / "stage2.yaml"), "init_from=null", "data.max_val_examples=6",
            "head_standardize=true", "head_stats_windows=12", "optim.max_steps=1"]
    assert main([*args, *_common(work, "stdhead")]) == 0
    model, meta = load_model(work / "stdhead")
    assert meta["config"]["head_standardize"] is True and model.head.standardize
    mean, std = model.head.feature_mean.clone(), model.head.feature_std.clone()
    assert mean.abs().sum() > 0 and not torch.allclose(std, torch.ones_like(std))
    # the statistics are those of 12 seeded training windows' states before training; recompute them from a
    # model with the trained weights but the same frozen LLM: only the projector moved, so compare loosely
    data = open_prepared(work / "data")
    train = stage2_items(data, "train", TextSettings(meta["extra"].get("preprocess_type") or "smry+Q",
                                                     meta["extra"].get("trend_mode", "exact")))
    feats = head_features(model, train[:40], 8)
    z = (feats - mean) / std
    assert z.mean(0).abs().median() < 3 and 0.05 < z.std(0).median() < 20
    assert main(["evaluate", "--model", str(work / "stdhead"), "--data", str(work / "data"), "--limit", "8"]) == 0


def test_align_without_the_text_scorers_still_succeeds(work, monkeypatch, capsys):
    """A missing nltk/rouge-score (seen on a GPU image) costs the description scores, not the trained run."""
    import sys

    monkeypatch.setitem(sys.modules, "nltk", None)  # `import nltk` now raises ImportError
    monkeypatch.setitem(sys.modules, "nltk.translate.bleu_score", None)
    args = ["align", "--config", str(CONFIGS / "stage1.yaml"), "optim.max_steps=1", "eval_generate=2",
            "max_new_tokens=4", *_common(work, "s1-noscore")]
    assert main(args) == 0
    m = json.loads((work / "s1-noscore" / "metrics.json").read_text())
    assert "not scored" in m["generation"]["error"] and m["generation"]["n"] == 2
    assert len((work / "s1-noscore" / "samples.jsonl").read_text().splitlines()) == 2
    assert (work / "s1-noscore" / "model" / "config.json").exists()
    assert "warning: descriptions not scored" in capsys.readouterr().out


def test_tune_with_the_learning_options_logs_diagnostics_and_evaluates(work, capsys):
    """The recommended configuration's options through the CLI (tiny models): normalised projector, text
    first, compact statistics, last token + channel-mean head, one LLM layer; train_log.csv carries the
    learning diagnostics, the summary the last row; evaluate and predict rebuild the same texts."""
    import csv

    args = ["tune", "--config", str(CONFIGS / "stage2.yaml"), "init_from=null", "data.max_val_examples=6",
            "projector.normalize=true", "stage2_layout=text_first", "data.preprocess_type=stats",
            "head_input=last+channel_mean", "head_standardize=true", "head_stats_windows=8", "llm.num_layers=1",
            "optim.head_lr=0.01", "optim.grad_clip=0"]
    capsys.readouterr()
    assert main([*args, *_common(work, "learnopts")]) == 0
    printed = capsys.readouterr().out
    assert "step 4/4: loss" in printed and "trained parameters" in printed  # progress lines without a terminal
    rows = list(csv.DictReader(open(work / "learnopts" / "train_log.csv")))
    assert len(rows) == 4
    for r in rows:
        assert float(r["grad_norm"]) > 0 and float(r["text_rms"]) > 0 and float(r["sensor_rms"]) > 0
        assert float(r["upd_projector"]) > 0 and float(r["upd_head"]) > 0 and r["upd_lora"] == ""
        assert float(r["logit_std_windows"]) >= 0 and float(r["logit_std_classes"]) > 0
    summary = json.loads((work / "learnopts" / "train_summary.json").read_text())
    assert summary["last_train_log"]["step"] == 4
    capsys.readouterr()
    assert main(["evaluate", "--model", str(work / "learnopts"), "--data", str(work / "data"), "--limit", "8"]) == 0
    assert "F1-macro" in capsys.readouterr().out
    # predict rebuilds the compact statistics text and the text-first layout for a raw recording
    import pandas as pd

    from sensorllm.datasets import open_prepared

    d = open_prepared(work / "data")
    x = np.asarray(d.stage2("test").windows[:2]).reshape(-1, 6)
    pd.DataFrame({n: x[:, j] for j, n in enumerate(d.channel_names)}).to_csv(work / "rec2.csv", index=False)
    assert main(["predict", "--model", str(work / "learnopts"), str(work / "rec2.csv"),
                 "--out", str(work / "pred2.csv")]) == 0
    pred = pd.read_csv(work / "pred2.csv")
    assert len(pred) == 3 and np.allclose(pred.filter(like="p_").sum(axis=1), 1.0, atol=1e-3)


def test_bf16_training_on_the_cpu_scores_in_bf16_unless_told(work):
    """`run.mixed_precision=bf16` trains under bf16 autocast on the CPU; evaluate and predict then score in
    bf16 by default (`--precision auto`), in fp32 with `--precision fp32`; `train_token_rows=false` keeps the
    channel token rows frozen without a Stage-1 checkpoint."""
    import pandas as pd

    from sensorllm.datasets import open_prepared

    args = ["tune", "--config", str(CONFIGS / "stage2.yaml"), "init_from=null", "data.max_val_examples=6",
            "run.mixed_precision=bf16", "train_token_rows=false", "head_standardize=true", "head_stats_windows=8"]
    assert main([*args, *_common(work, "bf16")]) == 0
    summary = json.loads((work / "bf16" / "train_summary.json").read_text())
    assert summary["trainable"]["token_rows"] == 0 and summary["trainable"]["projector"] > 0
    probs = {}
    for precision in ("auto", "bf16", "fp32"):
        out = work / f"bf16-eval-{precision}"
        assert main(["evaluate", "--model", str(work / "bf16"), "--data", str(work / "data"), "--limit", "8",
                     "--out", str(out), "--precision", precision]) == 0
        probs[precision] = np.load(out / "probabilities.npy")
    assert np.array_equal(probs["auto"], probs["bf16"])
    assert not np.array_equal(probs["bf16"], probs["fp32"])  # bf16 rounding shows
    assert np.allclose(probs["bf16"], probs["fp32"], atol=0.05)
    d = open_prepared(work / "data")
    x = np.asarray(d.stage2("test").windows[:2]).reshape(-1, 6)
    pd.DataFrame({n: x[:, j] for j, n in enumerate(d.channel_names)}).to_csv(work / "rec-bf16.csv", index=False)
    for precision in ("auto", "fp32"):
        assert main(["predict", "--model", str(work / "bf16"), str(work / "rec-bf16.csv"), "--precision", precision,
                     "--out", str(work / f"pred-{precision}.csv")]) == 0
    a, b = pd.read_csv(work / "pred-auto.csv"), pd.read_csv(work / "pred-fp32.csv")
    assert np.allclose(a.filter(like="p_"), b.filter(like="p_"), atol=0.05)


@pytest.mark.usefixtures("one_thread")
def test_align_and_tune_take_their_paths_from_options_and_print_where_the_config_is(work, capsys):
    """--data, --out and --init-from set data.prepared, run.out_dir and init_from (over the config's own paths);
    a run prints one line saying where its configuration is, not the configuration."""
    import yaml

    other = work / "elsewhere"
    s1, s2 = work / "opt-s1", work / "opt-s2"
    capsys.readouterr()
    assert main(["align", "--config", str(CONFIGS / "stage1.yaml"), "--data", str(work / "data"), "--out", str(s1),
                 "optim.max_steps=1", "eval_generate=0", f"run.cache_dir={work / 'cache'}",
                 f"data.prepared={other}"]) == 0  # the option wins over the override
    assert main(["tune", "--config", str(CONFIGS / "stage2.yaml"), "--data", str(work / "data"), "--out", str(s2),
                 "--init-from", str(s1 / "model"), "optim.max_steps=1", f"run.cache_dir={work / 'cache'}"]) == 0
    printed = capsys.readouterr().out
    for run, stage in ((s1, "align (Stage 1)"), (s2, "tune (Stage 2)")):
        where = f"{work / 'data'} → {run} (configuration: {run / 'config.yaml'})"
        assert f"== sensorllm {stage}: {where} ==" in printed
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        assert cfg["data"]["prepared"] == str(work / "data") and cfg["run"]["out_dir"] == str(run)
    assert cfg["init_from"] == str(s1 / "model")
    assert "\nprojector:\n" not in printed and "max_new_tokens:" not in printed  # no YAML on the console


@pytest.mark.parametrize("argv,error", [
    (["align"], "names no prepared dataset: give --data DIR"),
    (["tune", "--data", "somewhere"], "names no output folder: give --out DIR"),
    (["align", "--config", "recommended/nope"], "packaged name (demo, recommended, recommended/stage1-describe)"),
])
def test_the_packaged_configuration_needs_the_paths_from_the_command(tmp_path, monkeypatch, capsys, argv, error):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert error in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.slow
def test_demo_prints_its_steps_and_results_not_its_configuration(tmp_path, capfd):
    """`sensorllm demo` (here with the tiny configs instead of the packaged demo ones, to be quick): each step's
    header, one line per stage saying where its configuration is, the test scores."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--configs", str(CONFIGS), "--eval-limit", "8"]) == 0
    printed = capfd.readouterr().out  # the steps run as `sensorllm` commands in their own processes
    for k in range(1, 7):
        assert f"=== {k}/6 " in printed
    assert f"(configuration: {out / 'stage1' / 'config.yaml'})" in printed
    assert f"(configuration: {out / 'stage2' / 'config.yaml'})" in printed
    assert "test F1-macro" in printed and "=== done in " in printed
    # after the one test window, the check over 8 seeded validation windows (tests/test_demo_check.py)
    assert "=== 6/6 describe one test window with the Stage-1 model, then check 8 validation windows" in printed
    assert "\n-- check over 8 seeded validation windows (one channel each, up to 40 samples): " in printed
    assert "/8 seeded validation windows pass describe's check" in printed
    assert "\nprojector:\n" not in printed and "\noptim:\n" not in printed


def test_align_warms_the_sensor_path_once_and_not_again_on_resume(work, capsys):
    """``trend_tokens.steps``: the warm start runs before the first step, its record is written and kept in
    metrics.json; the same command again resumes from the checkpoint and does not warm the tokens a second time."""
    args = ["align", "--config", str(CONFIGS / "stage1.yaml"), "optim.max_steps=2", "eval_generate=0",
            "trend_tokens.steps=3", "trend_tokens.batch_size=4", "time_marks=4", *_common(work, "s1-warm")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "trend tokens step 3/3" in out and "held-out sensor tokens" in out
    rec = json.loads((work / "s1-warm" / "trend_tokens.json").read_text())
    assert rec["steps"] == 3 and 0.0 <= rec["val_accuracy"] <= 1.0
    assert json.loads((work / "s1-warm" / "metrics.json").read_text())["trend_tokens"] == rec
    assert main(args) == 0
    assert "trend tokens step" not in capsys.readouterr().out
    assert json.loads((work / "s1-warm" / "model" / "config.json").read_text())["config"]["time_marks"] == 4
