"""A user's own study, from CSV to a scored timeline: a generic spec whose label cells hold codes (FEL, WLK, SIT),
prepared, a features-rf baseline and a tiny SensorLLM trained on it that carry the codes, and `predict`,
`evaluate` and `stream` on new CSVs whose label column holds codes; `--channel-map` with the unit check after
it; the input checks through the CLI and into the report; the timeline plot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sensorllm.cli.main import main

RATE, WINDOW, STRIDE = 20, 40, 20
CLASSES = [{"code": "SIT", "name": "sitting", "description": "seated, hands still"},
           {"code": "WLK", "name": "walking"},
           {"code": "FEL", "name": "fell", "description": "a fall to the floor"}]
CODES = [c["code"] for c in CLASSES]
NAMES = [c["name"] for c in CLASSES]
ACC = [{"name": f"{a}_acc", "sensor": "acc", "axis": a, "placement": "wrist", "unit": "g", "sensor_range": 8}
       for a in "xyz"]
GYRO = [{"name": f"{a}_gyro", "sensor": "gyro", "axis": a, "placement": "wrist", "unit": "rad/s",
         "sensor_range": 35} for a in "xyz"]
CHANNELS = [c["name"] for c in ACC + GYRO]
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tiny"

pytestmark = pytest.mark.usefixtures("one_thread")


def signal(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 6)`` wrist acc (g) + gyro (rad/s): still (SIT), a 2 Hz swing (WLK) or jolts (FEL)."""
    t = np.arange(n)[:, None] / RATE
    x = 0.02 * rng.normal(size=(n, 6))
    x[:, 2] += 1.0
    if k == 1:
        x[:, :3] += 0.4 * np.sin(2 * np.pi * 2 * t + rng.uniform(0, 6, size=3))
        x[:, 3:] += 1.5 * np.sin(2 * np.pi * 2 * t + rng.uniform(0, 6, size=3))
    elif k == 2:
        x[:, :3] += rng.normal(scale=1.2, size=(n, 3))
        x[:, 3:] += rng.normal(scale=3.0, size=(n, 3))
    return x


def study_frame(layout, seed: int, labels: str = "codes") -> pd.DataFrame:
    """Rows of ``layout`` = [(recording, subject, [(class, samples), ...]), ...] with a label column of
    ``codes``, ``names`` or ``indices`` and a time column in seconds."""
    rng = np.random.default_rng(seed)
    parts = []
    for rec, subj, segs in layout:
        for k, n in segs:
            df = pd.DataFrame(signal(k, n, rng), columns=CHANNELS)
            df.insert(0, "label", {"codes": CODES, "names": NAMES, "indices": [0, 1, 2]}[labels][k])
            df.insert(0, "subject", subj)
            df.insert(0, "recording", rec)
            parts.append(df)
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "time", np.concatenate([np.arange((out["recording"] == r).sum()) / RATE
                                          for r in dict.fromkeys(out["recording"])]))
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("study")
    raw = root / "raw"
    raw.mkdir()
    for s in range(1, 7):
        study_frame([(f"r{s}", f"s{s}", [(0, 100), (1, 100), (2, 100)])], seed=s).drop(columns="time").to_csv(
            raw / f"s{s}.csv", index=False)
    spec = {"name": "falls", "rate_hz": RATE, "channels": ACC + GYRO, "classes": CLASSES, "window": WINDOW,
            "stride": STRIDE, "test_subjects": ["s6"], "val_subjects": ["s5"]}
    (root / "spec.yaml").write_text(json.dumps(spec))
    data = root / "data"
    assert main(["prepare", "generic", "--spec", str(root / "spec.yaml"), "--raw", str(raw), "--out", str(data),
                 "-q"]) == 0
    rf = root / "rf"
    assert main(["baseline", "features-rf", "--data", str(data), "--out", str(rf), "--seed", "0",
                 "--model-arg", "n_estimators=10"]) == 0
    # a held-out subject with codes in its label column: two recordings
    subject08 = root / "subject08.csv"
    study_frame([("a", "s8", [(1, 80), (0, 80)]), ("b", "s8", [(2, 80), (1, 60)])], seed=8).to_csv(subject08,
                                                                                                     index=False)
    return SimpleNamespace(root=root, data=data, rf=rf, subject08=subject08)


@pytest.fixture(scope="module")
def sllm(study) -> Path:
    """A tiny random Stage-2 SensorLLM on the study, saved as `sensorllm tune` saves it."""
    from sensorllm.datasets import open_prepared
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.model.checkpoint import save_checkpoint
    from sensorllm.train.common import checkpoint_extra
    from sensorllm.train.config import Stage2Config, load_config

    data = open_prepared(study.data)
    cfg = load_config(Stage2Config, CONFIGS / "stage2.yaml", [f"data.prepared={study.data}"])
    mcfg = SensorLLMConfig(channels=tuple(CHANNELS), llm=LLMConfig(name="tiny-random-llama", seed=0),
                           encoder=EncoderConfig(size="tiny", seed=0),
                           projector=ProjectorConfig(preset="custom", hidden=(32,), pool=4), labels=tuple(NAMES))
    return save_checkpoint(build_sensor_llm(mcfg, head_seed=1), study.root / "sllm" / "model",
                           checkpoint_extra(cfg, data, "stage2", init_from=None))


# ---- label codes -------------------------------------------------------------------------------------------


def test_every_model_kind_carries_codes_and_older_ones_still_load(study, sllm, tmp_path):
    from sensorllm.infer.artifact import inspect_model

    ds = json.loads((study.rf / "config.json").read_text())["dataset"]
    assert ds["classes"] == NAMES and ds["class_codes"] == CODES
    assert ds["class_descriptions"] == ["seated, hands still", "", "a fall to the floor"]
    meta = json.loads((sllm / "config.json").read_text())
    assert meta["classes"] == [{"name": c["name"], "code": c["code"], "description": c.get("description", "")}
                               for c in CLASSES]
    for path in (study.rf, sllm):
        info = inspect_model(path)
        assert info.class_names == NAMES and info.class_codes == CODES
        assert info.class_descriptions[2] == "a fall to the floor"

    # saved before codes were stored: read from the spec kept with the model; without it, no codes
    old_rf, old_sllm = tmp_path / "rf", tmp_path / "sllm"
    shutil.copytree(study.rf, old_rf)
    shutil.copytree(sllm, old_sllm)
    cfg = json.loads((old_rf / "config.json").read_text())
    del cfg["dataset"]["class_codes"], cfg["dataset"]["class_descriptions"]
    (old_rf / "config.json").write_text(json.dumps(cfg))
    del meta["classes"]
    (old_sllm / "config.json").write_text(json.dumps(meta))
    assert inspect_model(old_rf).class_codes == CODES and inspect_model(old_sllm).class_codes == CODES
    for c in cfg["dataset"]["spec"]["classes"]:
        c.pop("code")
    (old_rf / "config.json").write_text(json.dumps(cfg))
    for c in meta["extra"]["dataset"]["classes"]:
        c.pop("code")
    (old_sllm / "config.json").write_text(json.dumps(meta))
    for path in (old_rf, old_sllm):
        info = inspect_model(path)
        assert info.class_codes == ["", "", ""] and info.class_names == NAMES


def test_the_example_spec_shows_codes():
    from sensorllm.datasets.generic import spec_from_yaml

    spec = spec_from_yaml(CONFIGS.parent / "generic" / "example.yaml")
    assert [(c.code, c.name) for c in spec.classes] == [("SIT", "sitting"), ("STD", "standing"), ("WLK", "walking")]


@pytest.mark.parametrize("kind", ["features-rf", "sensorllm"])
def test_predict_scores_a_label_column_of_codes(study, sllm, kind, tmp_path, capsys):
    model = str(sllm if kind == "sensorllm" else study.rf)
    out, rep = tmp_path / "labels.csv", tmp_path / "rep"
    assert main(["predict", "--model", model, str(study.subject08), "--out", str(out), "--report", str(rep)]) == 0
    err = capsys.readouterr().err
    m = json.loads((rep / "metrics.json").read_text())
    assert m["label_format"] == "class codes" and m["windows_scored"] > 0
    pred = pd.read_csv(out)
    assert set(pred["true_label"].dropna()) <= set(NAMES) and "scored" in err
    assert "sampling rate from column 'time' (seconds): 20 Hz" in err
    if kind == "features-rf":  # the trained baseline tells these activities apart
        assert m["accuracy"] >= 0.6


def test_evaluate_and_stream_take_a_file_with_codes(study, tmp_path, capsys):
    from sensorllm.serve.scoring import parse_labels

    idx, fmt = parse_labels(np.array(["fel", "Walking", "", "SIT"], dtype=object), NAMES, "f.csv", "label", CODES)
    assert fmt == "class names and codes" and idx.tolist() == [2, 1, -1, 0]
    with pytest.raises(Exception, match=r"row 1: unknown label 'RUN'.*class codes \['SIT', 'WLK', 'FEL'\]"):
        parse_labels(np.array(["RUN"], dtype=object), NAMES, "f.csv", "label", CODES)

    ev = tmp_path / "ev"
    assert main(["evaluate", "--model", str(study.rf), "--data", str(study.subject08), "--out", str(ev)]) == 0
    m = json.loads((ev / "metrics.json").read_text())
    assert m["label_format"] == "class codes" and m["windows_scored"] > 0
    assert (ev / "timeline.png").is_file() and (ev / "predictions.csv").is_file()
    assert (ev / "input_checks.json").is_file()
    unlabelled = tmp_path / "nolabel.csv"
    pd.read_csv(study.subject08).drop(columns="label").to_csv(unlabelled, index=False)
    capsys.readouterr()
    assert main(["evaluate", "--model", str(study.rf), "--data", str(unlabelled)]) == 1
    assert "no label column to score against" in capsys.readouterr().err

    one = tmp_path / "one.csv"
    df = pd.read_csv(study.subject08)
    df[df["recording"] == "a"].drop(columns=["recording", "subject"]).to_csv(one, index=False)
    png = tmp_path / "stream.png"
    assert main(["stream", "--model", str(study.rf), "--replay", str(one), "--speed", "0", "--timeline", str(png),
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert png.is_file() and "timeline of 7 decisions" in capsys.readouterr().err


# ---- --channel-map -------------------------------------------------------------------------------------------


def test_channel_map_renames_columns_then_the_unit_check_runs(study, tmp_path, capsys):
    df = pd.read_csv(study.subject08)
    short = {c: c[0] + ("a" if c.endswith("acc") else "g") for c in CHANNELS}  # x_acc -> xa, x_gyro -> xg
    mapped = tmp_path / "watch.csv"
    df.rename(columns=short).to_csv(mapped, index=False)
    cmap = ",".join(f"{v}={k}" for k, v in short.items())
    assert main(["predict", "--model", str(study.rf), str(mapped), "--out", str(tmp_path / "a.csv")]) == 1
    assert "missing channels" in capsys.readouterr().err
    assert main(["predict", "--model", str(study.rf), str(mapped), "--channel-map", cmap,
                 "--out", str(tmp_path / "b.csv")]) == 0
    assert "columns renamed by --channel-map: xa -> x_acc" in capsys.readouterr().err
    assert main(["predict", "--model", str(study.rf), str(study.subject08), "--out", str(tmp_path / "c.csv")]) == 0
    assert pd.read_csv(tmp_path / "b.csv")["label"].tolist() == pd.read_csv(tmp_path / "c.csv")["label"].tolist()

    # the gyroscope columns of this file are in deg/s: after mapping, the unit check still refuses them
    deg = df.rename(columns=short)
    deg[["xg", "yg", "zg"]] *= 180 / np.pi
    deg.to_csv(tmp_path / "deg.csv", index=False)
    capsys.readouterr()
    for argv in (["predict", "--model", str(study.rf), str(tmp_path / "deg.csv")],
                 ["evaluate", "--model", str(study.rf), "--data", str(tmp_path / "deg.csv")],
                 ["stream", "--model", str(study.rf), "--replay", str(tmp_path / "deg.csv"), "--speed", "0"]):
        assert main([*argv, "--channel-map", cmap]) == 1, argv
        err = capsys.readouterr().err
        assert "channels 'x_gyro', 'y_gyro', 'z_gyro' (gyro at wrist, vector magnitude)" in err, argv
        assert "deg/s given to a model trained in rad/s (factor ×57.3)" in err, argv
    for bad, msg in (("xa=x_acc,xa=y_acc", "column 'xa' is mapped twice"),
                     ("xa=x_acc,ya=x_acc", "both mapped to channel 'x_acc'"),
                     ("xa", "is not FILE_COLUMN=MODEL_CHANNEL"),
                     ("xa=speed", "'speed' is not a channel of the model"),
                     ("nope=x_acc", "the file has no column 'nope'")):
        assert main(["predict", "--model", str(study.rf), str(mapped), "--channel-map", bad]) == 1
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, (bad, err)
    # live input: the header is renamed
    from sensorllm.serve.stream_io import CsvRowParser

    p = CsvRowParser(CHANNELS, "<stdin>", {v: k for k, v in short.items()})
    x = p.feed(["time,xg,yg,zg,xa,ya,za", "0,1,2,3,4,5,6"])
    assert x.tolist() == [[4, 5, 6, 1, 2, 3]]


# ---- input checks through the CLI, and the timeline ------------------------------------------------------------


def test_input_warnings_go_to_stderr_and_the_report(study, tmp_path, capsys):
    df = pd.read_csv(study.subject08)
    df.loc[df["recording"] == "a", "y_gyro"] = 0.0  # a dead axis for the whole of recording a
    df.loc[5, "x_acc"] = np.inf
    df.loc[100:102, "z_acc"] = 12.0  # beyond the ±8 g range
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    rep = tmp_path / "rep"
    assert main(["predict", "--model", str(study.rf), str(bad), "--report", str(rep), "--out",
                 str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert f"warning: {bad}: channel 'y_gyro' is constant (value 0) in 7 of 13 windows" in err
    assert f"warning: {bad}: channel 'x_acc': 1 inf cell(s) at rows 6 (first: inf)" in err
    assert f"warning: {bad}: channel 'z_acc': 3 of 300 samples beyond the sensor's range ±8 g (largest 12)" in err
    m = json.loads((rep / "metrics.json").read_text())
    kinds = sorted((i["kind"], i["channel"], i["count"]) for i in m["input_checks"])
    assert kinds == [("dead_channel", "y_gyro", 7), ("inf", "x_acc", 1), ("out_of_range", "z_acc", 3)]
    assert "input warning: " in (rep / "report.md").read_text()
    assert len(json.loads((rep / "input_checks.json").read_text())["issues"]) == 3

    # a time column at another rate is refused before the model loads; --force goes on with a warning
    fast = pd.read_csv(study.subject08)
    fast["time"] = fast["time"] / 2  # 40 Hz
    fast.to_csv(tmp_path / "fast.csv", index=False)
    assert main(["predict", "--model", str(study.rf), str(tmp_path / "fast.csv")]) == 1
    err = capsys.readouterr().err
    assert "column 'time' (seconds) gives 40 Hz (median interval 25 ms), the model was trained at 20 Hz" in err
    assert "resample the recording to 20 Hz" in err and err.count("\n") == 1
    assert main(["predict", "--model", str(study.rf), str(tmp_path / "fast.csv"), "--force",
                 "--out", str(tmp_path / "f.csv")]) == 0
    assert "(continuing: --force)" in capsys.readouterr().err
    assert main(["predict", "--model", str(study.rf), str(tmp_path / "fast.csv"), "--time-column", "",
                 "--out", str(tmp_path / "g.csv")]) == 0


def test_timeline_has_one_panel_per_recording_six_per_image(study, tmp_path, capsys):
    from matplotlib.image import imread

    from sensorllm.serve.timeline import write_timeline

    layout = [(f"rec{i}", f"s{i}", [(i % 3, 60), ((i + 1) % 3, 60)]) for i in range(7)] + [("short", "s9", [(0, 10)])]
    many = tmp_path / "many.csv"
    study_frame(layout, seed=3).drop(columns="label").to_csv(many, index=False)
    rep = tmp_path / "rep"
    assert main(["predict", "--model", str(study.rf), str(many), "--report", str(rep), "--out",
                 str(tmp_path / "p.csv")]) == 0
    assert "timeline of 8 recording(s)" in capsys.readouterr().err
    assert not (rep / "metrics.json").exists()  # unlabelled: no scores, but the timeline
    first, second = imread(rep / "timeline.png"), imread(rep / "timeline-2.png")
    assert not (rep / "timeline-3.png").exists()
    assert first.shape[0] == round((1.9 * 6 + 0.9) * 110) and second.shape[0] == round((1.9 * 2 + 0.9) * 110)

    # labelled, 2 recordings: one image; the same call with fewer panels removes an older timeline-2.png
    assert main(["predict", "--model", str(study.rf), str(study.subject08), "--report", str(rep), "--out",
                 str(tmp_path / "q.csv")]) == 0
    assert imread(rep / "timeline.png").shape[0] == round((1.9 * 2 + 0.9) * 110)
    assert not (rep / "timeline-2.png").exists()
    from sensorllm.serve.timeline import TimelinePanel

    panels = [TimelinePanel(f"p{i}", np.array([0.0]), np.array([2.0]), np.array([0]), np.array([0.9]))
              for i in range(13)]
    assert [n for _, n in write_timeline(panels, NAMES, tmp_path / "t.png")] == [6, 6, 1]
