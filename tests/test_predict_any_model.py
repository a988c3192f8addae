"""`sensorllm predict` / `evaluate` / `stream` on every model kind (tiny cnn1d and features-rf baselines, a tiny
random SensorLLM), recording-aware prediction scored against a label column, the input unit check, and clear
one-line errors for directories that are not models."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from sensorllm.cli.main import main

RATE, WINDOW, STRIDE = 20.0, 48, 24
FREQS = (1.0, 3.0, 6.0)  # Hz per class
CLASSES = [f"f{f:g}Hz" for f in FREQS]
CHANNELS = ["x_acc", "y_acc", "z_acc"]
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tiny"

pytestmark = pytest.mark.usefixtures("one_thread")


def _signal(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 3)`` accelerometer-like samples in g: a FREQS[k] Hz sine per axis, 1 g of gravity on z, noise."""
    t = np.arange(n)[:, None] / RATE
    amp = rng.uniform(0.5, 1.0, size=(1, 3))
    x = amp * np.sin(2 * np.pi * FREQS[k] * t + rng.uniform(0, 2 * np.pi, size=(1, 3)))
    x[:, 2] += 1.0
    return x + 0.1 * rng.normal(size=x.shape)


def write_prepared(root: Path, seed: int = 0) -> Path:
    """A prepared directory (layout of sensorllm.datasets.prepared) of sine windows."""
    rng = np.random.default_rng(seed)
    chans = [{"name": c, "description": f"{c[0]}-axis accelerometer", "sensor": "acc", "axis": c[0],
              "placement": "wrist", "unit": "g", "sensor_range": None} for c in CHANNELS]
    splits = {}
    for split, n in {"train": 90, "val": 18, "test": 24}.items():
        d = root / "stage2" / split
        d.mkdir(parents=True)
        y = np.arange(n) % len(FREQS)
        w = np.stack([_signal(int(k), WINDOW, rng) for k in y]).astype(np.float32)
        np.save(d / "windows.npy", w)
        np.save(d / "labels.npy", y.astype(np.int64))
        np.save(d / "subjects.npy", np.asarray([f"{split}{i % 2}" for i in range(n)]))
        np.save(d / "starts.npy", np.arange(n, dtype=np.int64) * WINDOW)
        np.save(d / "recordings.npy", np.zeros(n, dtype=np.int64))
        splits[split] = {"windows": n}
    spec = {"name": "sines", "channels": chans, "classes": [{"raw_id": i + 1, "name": c} for i, c in enumerate(CLASSES)],
            "rate_hz": RATE, "window": WINDOW, "stride": STRIDE, "stage1_window": [16, 48], "max_gap": 4}
    manifest = {"dataset": "sines", "rate_hz": RATE, "classes": CLASSES, "channels": CHANNELS, "window": WINDOW,
                "stride": STRIDE, "spec": spec, "splits": splits}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


# recordings of the multi-recording file: (recording, subject, [(class, samples), ...])
LAYOUT = [("r1", "A", [(0, 100), (1, 100)]), ("r2", "B", [(2, 150)]), ("r3", "B", [(1, 30)])]


def recordings_frame(seed: int = 1, scale: float = 1.0, labels: str = "names") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for rec, subj, segs in LAYOUT:
        for k, n in segs:
            df = pd.DataFrame(_signal(k, n, rng) * scale, columns=CHANNELS)
            df.insert(0, "subject", subj)
            df.insert(0, "recording", rec)
            df["label"] = CLASSES[k] if labels == "names" else k
            parts.append(df)
    out = pd.concat(parts, ignore_index=True)
    return out[["recording", "subject", "label", *CHANNELS[::-1]]]  # channels in another order: matched by name


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("anymodel")
    data = write_prepared(root / "data")
    runs = {}
    for name, extra in (("cnn1d", ["--epochs", "2", "--batch-size", "8", "--lr", "3e-3"]),
                        ("features-rf", ["--model-arg", "n_estimators=15"])):
        out = root / name
        assert main(["baseline", name, "--data", str(data), "--out", str(out), "--seed", "1", "--threads", "1",
                     "--device", "cpu", *extra]) == 0
        runs[name] = out
    rec = root / "recs.csv"
    recordings_frame().to_csv(rec, index=False)
    return SimpleNamespace(root=root, data=data, runs=runs, rec=rec)


@pytest.fixture(scope="module")
def sensorllm_ckpt(work) -> Path:
    """A tiny random Stage-2 SensorLLM on the sines dataset, saved with `checkpoint_extra` (as `sensorllm tune`
    saves it)."""
    from sensorllm.datasets import open_prepared
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.model.checkpoint import save_checkpoint
    from sensorllm.train.common import checkpoint_extra
    from sensorllm.train.config import Stage2Config, load_config

    data = open_prepared(work.data)
    cfg = load_config(Stage2Config, CONFIGS / "stage2.yaml", [f"data.prepared={work.data}"])
    extra = checkpoint_extra(cfg, data, "stage2", init_from=None)
    mcfg = SensorLLMConfig(channels=tuple(CHANNELS), llm=LLMConfig(name="tiny-random-llama", seed=0),
                           encoder=EncoderConfig(size="tiny", seed=0),
                           projector=ProjectorConfig(preset="custom", hidden=(64,), pool=4), labels=tuple(CLASSES))
    return save_checkpoint(build_sensor_llm(mcfg, head_seed=1), work.root / "sllm" / "model", extra)


def _windows(x: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    return np.stack([x[s:s + WINDOW] for s in range(0, len(x) - WINDOW + 1, stride)])


# ---- metadata saved with the models --------------------------------------------------------------------


def test_models_carry_inference_metadata_and_channel_stats(work, sensorllm_ckpt):
    from sensorllm.datasets import open_prepared
    from sensorllm.datasets.stats import channel_scale_stats

    train = np.load(work.data / "stage2" / "train" / "windows.npy")
    ref = channel_scale_stats(train, CHANNELS)
    flat = train.reshape(-1, 3).astype(np.float64)
    assert ref["channels"]["z_acc"]["rms"] == pytest.approx(np.sqrt((flat[:, 2] ** 2).mean()))
    assert ref["channels"]["x_acc"]["std"] == pytest.approx(flat[:, 0].std(), rel=1e-6)
    for run in work.runs.values():
        ds = json.loads((run / "config.json").read_text())["dataset"]
        assert ds["window"] == WINDOW and ds["stride"] == STRIDE and ds["rate_hz"] == RATE
        assert [c["unit"] for c in ds["spec"]["channels"]] == ["g"] * 3
        assert ds["channel_stats"] == ref
    extra = json.loads((sensorllm_ckpt / "config.json").read_text())["extra"]
    assert extra["channel_stats"] == ref  # the one key checkpoint_extra adds
    assert open_prepared(work.data).channel_names == CHANNELS


# ---- recording-aware prediction, scored -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["features-rf", "sensorllm"])
def test_multi_recording_predict_keeps_windows_inside_recordings_and_scores(work, sensorllm_ckpt, kind, tmp_path,
                                                                             capsys):
    model = str(sensorllm_ckpt if kind == "sensorllm" else work.runs[kind])
    out = tmp_path / "pred.csv"
    capsys.readouterr()
    assert main(["predict", "--model", model, str(work.rec), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "predict: 3 recordings (column 'recording', subjects from 'subject'; windows never span two)" in err
    assert "r1 / subject A: 7, r2 / subject B: 5, r3 / subject B: 0 (shorter than a window)" in err
    pred = pd.read_csv(out)
    assert list(pred.columns[:6]) == ["recording", "subject", "window", "start_s", "end_s", "label"]
    assert {"true_label", "label_purity", *(f"p_{c}" for c in CLASSES)} <= set(pred.columns)
    assert pred.groupby("recording")["window"].apply(list).to_dict() == {"r1": list(range(7)), "r2": list(range(5))}
    rows = {"r1": 200, "r2": 150}
    assert all(e * RATE <= rows[r] + 1e-9 for r, e in zip(pred["recording"], pred["end_s"]))  # inside its recording
    assert np.allclose(pred.filter(like="p_").sum(axis=1), 1.0, atol=1e-4)

    # a recording's windows are those of the recording on its own (so none spans two recordings)
    df = pd.read_csv(work.rec)
    alone = tmp_path / "r2.csv"
    df[df["recording"] == "r2"].drop(columns=["recording", "subject"]).to_csv(alone, index=False)
    assert main(["predict", "--model", model, str(alone), "--out", str(tmp_path / "alone.csv"),
                 "--labels-column", ""]) == 0
    solo = pd.read_csv(tmp_path / "alone.csv")
    r2 = pred[pred["recording"] == "r2"]
    assert list(solo["label"]) == list(r2["label"])
    assert np.allclose(solo.filter(like="p_").to_numpy(), r2.filter(like="p_").to_numpy(), atol=1e-5)
    assert "1 recording (no recording/subject column: the whole file is one stream)" in capsys.readouterr().err
    assert "scored 10 of 12 windows against column 'label' (rule pure): accuracy" in err

    # the report: rule stated, scored windows only, plot and per-recording table
    rep = tmp_path / "pred-report"
    for f in ("metrics.json", "confusion_matrix.png", "report.md", "per_recording.csv"):
        assert (rep / f).is_file(), f
    m = json.loads((rep / "metrics.json").read_text())
    assert m["label_rule"] == "pure" and m["label_format"] == "class names" and m["labels_column"] == "label"
    assert m["windows_total"] == 12 and m["windows_scored"] == 10  # r1's windows at samples 72 and 96 are mixed
    assert m["windows_spanning_label_change"] == 2
    scored = pred[pred["true_label"].notna()]
    assert len(scored) == 10 and set(pred.loc[pred["true_label"].isna(), "window"]) == {3, 4}
    assert m["accuracy"] == pytest.approx(float((scored["true_label"] == scored["label"]).mean()))
    assert m["n"] == 10 and 0.0 <= m["f1_macro"] <= 1.0
    per = {r["recording"]: r for r in m["per_recording"]}
    assert per["r1"]["scored"] == 5 and per["r2"]["scored"] == 5 and per["r3"]["windows"] == 0
    sub = scored[scored["recording"] == "r2"]
    assert per["r2"]["accuracy"] == pytest.approx(float((sub["true_label"] == sub["label"]).mean()))
    report = (rep / "report.md").read_text()
    assert "window label rule `pure`" in report and "## Per recording" in report and "| r2 | B | 5 | 5 |" in report
    assert f"accuracy {m['accuracy']:.4f}, F1-macro {m['f1_macro']:.4f}" in err


def test_parallel_batches_give_the_same_probabilities(work, sensorllm_ckpt, tmp_path, capsys):
    """`--workers 2` scores batches two at a time in threads sharing the model: same numbers, threads restored."""
    from sensorllm.infer.artifact import load_model
    from sensorllm.infer.stage2 import predict_proba

    outs = {}
    for w in (1, 2):
        outs[w] = tmp_path / f"w{w}.csv"
        assert main(["predict", "--model", str(sensorllm_ckpt), str(work.rec), "--out", str(outs[w]),
                     "--batch-size", "2", "--workers", str(w), "--labels-column", ""]) == 0
    one, two = pd.read_csv(outs[1]), pd.read_csv(outs[2])
    assert len(one) == 12 and list(one["label"]) == list(two["label"])
    assert np.allclose(one.filter(like="p_").to_numpy(), two.filter(like="p_").to_numpy(), atol=1e-6)

    clf = load_model(sensorllm_ckpt, workers=2)
    windows = _windows(pd.read_csv(work.rec)[CHANNELS].to_numpy()[:200])
    items = clf.items(windows).with_labels([0, 1, 2, 0, 1, 2, 0])  # losses too: the same weighted mean
    clf.model.train()
    threads = torch.get_num_threads()
    p1, loss1 = predict_proba(clf.model, items, batch_size=3, workers=1)
    p2, loss2 = predict_proba(clf.model, items, batch_size=3, workers=3)
    assert clf.model.training and torch.get_num_threads() == threads  # mode and threads as before the call
    assert p1.shape == (7, len(CLASSES)) and np.allclose(p1, p2, atol=1e-6) and loss1 == pytest.approx(loss2)
    with pytest.raises(ValueError, match="workers must be ≥ 1"):
        predict_proba(clf.model, items, workers=0)


def test_label_rules_indices_and_unknown_labels(work, tmp_path, capsys):
    run = str(work.runs["features-rf"])
    counts = {}
    for rule in ("pure", "majority", "center"):
        rep = tmp_path / f"rep-{rule}"
        assert main(["predict", "--model", run, str(work.rec), "--label-rule", rule, "--report", str(rep),
                     "--out", str(tmp_path / f"{rule}.csv")]) == 0
        counts[rule] = json.loads((rep / "metrics.json").read_text())
        assert f"window label rule `{rule}`" in (rep / "report.md").read_text()
    assert counts["pure"]["windows_scored"] == 10
    assert counts["majority"]["windows_scored"] == counts["center"]["windows_scored"] == 12
    center = pd.read_csv(tmp_path / "center.csv")
    # window 3 of r1 covers samples 72..119: its centre (sample 96) is still class 0; window 4 (96..143): class 1
    r1 = center[center["recording"] == "r1"].set_index("window")
    assert r1.loc[3, "true_label"] == CLASSES[0] and r1.loc[4, "true_label"] == CLASSES[1]
    assert r1.loc[3, "label_purity"] == pytest.approx(28 / 48, abs=1e-4)

    idx = tmp_path / "indices.csv"
    recordings_frame(labels="indices").to_csv(idx, index=False)
    assert main(["predict", "--model", run, str(idx), "--report", str(tmp_path / "rep-idx"),
                 "--out", str(tmp_path / "idx.csv")]) == 0
    m = json.loads((tmp_path / "rep-idx" / "metrics.json").read_text())
    assert m["label_format"] == "class indices"
    assert m["confusion_matrix"] == counts["pure"]["confusion_matrix"]

    bad = recordings_frame()
    bad.loc[130, "label"] = "jogging"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    capsys.readouterr()
    assert main(["predict", "--model", run, str(tmp_path / "bad.csv")]) == 1
    err = capsys.readouterr().err
    assert "row 131: unknown label 'jogging'" in err and "f1Hz" in err and err.count("\n") == 1
    bad = recordings_frame(labels="indices")
    bad.loc[5, "label"] = 7
    bad.to_csv(tmp_path / "bad7.csv", index=False)
    assert main(["predict", "--model", run, str(tmp_path / "bad7.csv")]) == 1
    assert "row 6: label '7' is not a class index of the model (0..2" in capsys.readouterr().err
    assert main(["predict", "--model", run, str(work.rec), "--recording-column", "session"]) == 1
    assert "no recording column 'session'" in capsys.readouterr().err


def test_parse_labels_and_window_label_rules():
    from sensorllm.serve.scoring import parse_labels, window_label as _window_label

    idx, fmt = parse_labels(np.array(["b", "", None, "a"], dtype=object), ["a", "b"], "f.csv", "label")
    assert fmt == "class names" and idx.tolist() == [1, -1, -1, 0]
    idx, fmt = parse_labels(np.array([1.0, np.nan, 0.0]), ["a", "b"], "f.csv", "label")
    assert fmt == "class indices" and idx.tolist() == [1, -1, 0]
    idx, fmt = parse_labels(np.array(["1", "2"], dtype=object), ["2", "1"], "f.csv", "label")
    assert fmt == "class names" and idx.tolist() == [1, 0]  # names win over indices
    lab = np.array([0, 0, 0, 1, 1, -1])
    assert _window_label(lab, "pure", 2) == (-1, 0.5)
    assert _window_label(lab, "majority", 2) == (0, 0.5)
    assert _window_label(lab, "center", 2) == (1, pytest.approx(2 / 6))
    assert _window_label(np.array([0, 0, 1, 1]), "majority", 2)[0] == 1  # tie: the centre sample's label
    assert _window_label(np.array([2, 2, 2]), "pure", 3) == (2, 1.0)


# ---- baselines in predict, evaluate and stream ------------------------------------------------------------


@pytest.mark.parametrize("name", ["cnn1d", "features-rf"])
def test_baseline_runs_in_predict_evaluate_and_stream(work, name, tmp_path, capsys):
    from sensorllm.infer.artifact import load_model

    run = work.runs[name]
    df = pd.read_csv(work.rec)
    single = tmp_path / "r2.csv"
    df[df["recording"] == "r2"][CHANNELS].to_csv(single, index=False)
    assert main(["predict", "--model", str(run), str(single), "--out", str(tmp_path / "p.csv")]) == 0
    pred = pd.read_csv(tmp_path / "p.csv")
    w = _windows(df[df["recording"] == "r2"][CHANNELS].to_numpy()).astype(np.float32)
    model = load_model(run)
    if name == "cnn1d":
        with torch.no_grad():
            ref = model(torch.from_numpy(w)).argmax(1).numpy()
    else:
        ref = model.predict(w)
    assert list(pred["label"]) == [CLASSES[k] for k in ref]  # argmax of predict_proba = the model's own prediction
    assert np.allclose(pred.filter(like="p_").sum(axis=1), 1.0)

    # evaluate on the test split reproduces the run's own test score
    capsys.readouterr()
    assert main(["evaluate", "--model", str(run), "--data", str(work.data), "--out", str(tmp_path / "ev")]) == 0
    assert "F1-macro" in capsys.readouterr().out
    got, own = (json.loads(p.read_text()) for p in (tmp_path / "ev" / "metrics.json", run / "metrics.json"))
    assert got["confusion_matrix"] == own["confusion_matrix"] and got["accuracy"] == own["accuracy"]
    assert (tmp_path / "ev" / "confusion_matrix.png").is_file() and (tmp_path / "ev" / "probabilities.npy").is_file()
    assert main(["evaluate", "--model", str(run), "--data", str(work.data), "--labels", "a, b"]) == 1
    assert "needs a SensorLLM model" in capsys.readouterr().err

    # stream: the same decisions as predict with stride = hop
    assert main(["stream", "--model", str(run), "--replay", str(single), "--speed", "0", "--all-probs",
                 "--out", str(tmp_path / "s.csv")]) == 0
    s = pd.read_csv(tmp_path / "s.csv")
    assert list(s["label"]) == list(pred["label"]) and list(s["decision"]) == list(pred["window"])
    assert np.allclose(s.filter(like="p_").to_numpy(), pred.filter(like="p_").to_numpy(), atol=1e-5)
    assert f"stream: a {name} baseline run" in capsys.readouterr().err


def test_stream_classifier_from_a_baseline_run(work):
    from sensorllm.serve.stream import StreamClassifier

    clf = StreamClassifier.from_checkpoint(work.runs["cnn1d"], hop=12)
    assert clf.window == WINDOW and clf.rate_hz == RATE
    assert clf.class_names == CLASSES and clf.channel_names == CHANNELS
    x = recordings_frame()[CHANNELS].to_numpy()[:120]
    out = clf.push(x[:50]) + clf.push(x[50:])
    assert [d.end_sample for d in out] == list(range(WINDOW, 121, 12))


# ---- units ---------------------------------------------------------------------------------------------------


def test_recording_in_m_s2_is_refused_before_loading_then_forced(work, sensorllm_ckpt, tmp_path, capsys,
                                                                 monkeypatch):
    ms2 = tmp_path / "ms2.csv"
    recordings_frame(scale=9.80665).to_csv(ms2, index=False)
    from sensorllm.infer import artifact

    real = artifact.load_model
    monkeypatch.setattr(artifact, "load_model", lambda *a, **k: pytest.fail("model loaded before the check"))
    capsys.readouterr()
    for model in (work.runs["cnn1d"], sensorllm_ckpt):
        assert main(["predict", "--model", str(model), str(ms2)]) == 1
        err = capsys.readouterr().err
        assert "channels 'x_acc', 'y_acc', 'z_acc' (acc at wrist, vector magnitude)" in err
        assert "likely m/s^2 given to a model trained in g (factor ×9.81); divide the values by 9.807" in err
        assert "pass --force to predict anyway" in err and err.count("\n") == 1
    assert main(["stream", "--model", str(work.runs["cnn1d"]), "--replay", str(ms2), "--speed", "0"]) == 1
    err = capsys.readouterr().err
    assert "factor ×9.81" in err and "holds 3 recordings (recording/subject columns) but a stream is one" in err
    monkeypatch.setattr(artifact, "load_model", real)

    assert main(["predict", "--model", str(work.runs["cnn1d"]), str(ms2), "--force",
                 "--out", str(tmp_path / "forced.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "'x_acc'" in err and "×9.81" in err and "(continuing: --force)" in err
    # the training units pass silently
    assert main(["predict", "--model", str(work.runs["cnn1d"]), str(work.rec), "--out", str(tmp_path / "ok.csv")]) == 0
    assert "warning" not in capsys.readouterr().err

    # live input: the first complete window is checked
    monkeypatch.setattr("sys.stdin", io.StringIO(recordings_frame(scale=9.80665)[CHANNELS].to_csv(index=False)))
    assert main(["stream", "--model", str(work.runs["cnn1d"])]) == 1
    err = capsys.readouterr().err
    assert "<stdin> (first window)" in err and "factor ×9.81" in err


def test_unit_check_rules():
    from sensorllm.datasets.spec import ChannelSpec
    from sensorllm.serve.units import check_input_units, unit_factors

    assert [round(f, 2) for f, _ in unit_factors("rad/s")] == [57.3, 1000.0]
    assert [round(f, 4) for f, _ in unit_factors("m/s^2")][:1] == [0.102]
    specs = [ChannelSpec(f"{a}_gyro", "", "gyro", a, "waist", "rad/s") for a in "xyz"] + \
            [ChannelSpec("temp", "", "other", "", "", "")]
    stats = {"channels": {c.name: {"rms": 0.5} for c in specs[:3]} | {"temp": {"rms": 30.0}}}
    info = SimpleNamespace(channel_names=[c.name for c in specs], channels=specs, channel_stats=stats)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.5, size=(500, 3)), np.full((500, 1), 31.0)], axis=1)
    assert check_input_units(x, info).findings == []
    deg = x.copy()
    deg[:, :3] *= 180 / np.pi
    (f,) = check_input_units(deg, info).unit_mixups
    assert f.channels == ["x_gyro", "y_gyro", "z_gyro"] and f.factor == pytest.approx(57.2958, rel=1e-4)
    assert "deg/s given to a model trained in rad/s (factor ×57.3)" in f.message
    still = x.copy()
    still[:, :3] *= 0.1  # a still wearer's gyroscope: not reported
    assert check_input_units(still, info).findings == []
    wild = x.copy()
    wild[:, :3] *= 10  # far above the training magnitude, but no unit factor of rad/s: a warning only
    check = check_input_units(wild, info)
    assert check.unit_mixups == [] and len(check.far_off) == 1 and "far from the training" in check.far_off[0].message
    hot = x.copy()
    hot[:, 3] *= 1000  # a channel of unknown unit: generic factors
    (f,) = check_input_units(hot, info).unit_mixups
    assert f.channels == ["temp"] and "milli-units" in f.message
    assert check_input_units(x, SimpleNamespace(channel_names=info.channel_names, channels=None,
                                                channel_stats=None)).skipped


# ---- older runs and directories that are not models ----------------------------------------------------------


def test_older_baseline_run_without_the_new_metadata(work, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(work.runs["features-rf"], old)
    cfg = json.loads((old / "config.json").read_text())
    for k in ("spec", "stride", "channel_stats"):
        cfg["dataset"].pop(k)
    cfg["dataset"]["dir"] = str(tmp_path / "moved")  # the prepared data is gone too
    (old / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["predict", "--model", str(old), str(work.rec), "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "note: the model was saved without training channel statistics" in err
    assert "channel units not recorded" in err and f"using window/2 = {WINDOW // 2}" in err
    cfg["dataset"].pop("window")
    (old / "config.json").write_text(json.dumps(cfg))
    assert main(["predict", "--model", str(old), str(work.rec)]) == 1
    err = capsys.readouterr().err
    assert "features-rf baseline run whose config.json lacks dataset window" in err and err.count("\n") == 1
    cfg["dataset"]["dir"] = str(work.data)  # with its prepared data in place, the manifest fills the gap
    (old / "config.json").write_text(json.dumps(cfg))
    assert main(["predict", "--model", str(old), str(work.rec), "--out", str(tmp_path / "p2.csv")]) == 0
    assert "window not in config.json (older run): read from" in capsys.readouterr().err


def test_directories_that_are_not_models_get_one_line(work, sensorllm_ckpt, tmp_path, capsys):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(work.runs["cnn1d"] / "config.json", unfinished / "config.json")
    (tmp_path / "empty").mkdir()
    stage1 = tmp_path / "stage1"
    shutil.copytree(sensorllm_ckpt, stage1)
    meta = json.loads((stage1 / "config.json").read_text())
    meta["config"]["labels"], meta["extra"]["stage"] = None, "stage1"
    (stage1 / "config.json").write_text(json.dumps(meta))
    cases = {
        work.data: "is a prepared dataset (manifest.json), not a trained model",
        tmp_path / "empty": "holds no config.json, so it is not a model directory",
        tmp_path / "nope": "does not exist",
        unfinished: "is an unfinished cnn1d baseline run: it has no model.safetensors",
    }
    for argv in (["predict", "--model", str(stage1), str(work.rec)],
                 ["stream", "--model", str(stage1), "--replay", str(work.rec)]):
        capsys.readouterr()
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "is a Stage-1 SensorLLM model (trend descriptions, no classifier head)" in err and err.count("\n") == 1
    for path, msg in cases.items():
        for argv in (["predict", "--model", str(path), str(work.rec)],
                     ["evaluate", "--model", str(path), "--data", str(work.data)],
                     ["stream", "--model", str(path), "--replay", str(work.rec)]):
            capsys.readouterr()
            assert main(argv) == 1, argv
            err = capsys.readouterr().err
            assert msg in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
    assert main(["describe", "--model", str(work.runs["cnn1d"]), str(work.rec)]) == 1
    assert "needs a SensorLLM model" in capsys.readouterr().err
    from sensorllm.infer.artifact import load_sensorllm

    with pytest.raises(ValueError, match="is a cnn1d baseline run, not a SensorLLM checkpoint"):
        load_sensorllm(work.runs["cnn1d"])
