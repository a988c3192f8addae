"""The generic CSV/Parquet dataset: recording column, class codes with readable names and descriptions,
gyroscope unit check and the validation-subject warning / options, on small files written in tmp_path."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sensorllm.cli.main import main
from sensorllm.datasets import DataError, open_prepared
from sensorllm.datasets.generic import spec_from_dict, spec_from_yaml
from sensorllm.datasets.prepare import PrepareOptions, prepare_dataset

RATE = 50
# (recording, label code, samples); ABD ends r1 and starts r2, so only the recording column keeps them apart.
LAYOUT = [("r1", "PEN", 300), ("r1", "ABD", 250), ("r2", "ABD", 250), ("r2", "SQT", 300)]
CLASSES = [
    {"code": "PEN", "name": "pendulum swing", "description": "arm hangs down and swings forward and back"},
    {"code": "ABD", "name": "shoulder abduction", "description": "straight arm raised sideways to shoulder height"},
    {"code": "SQT", "name": "squat"},
]
GYRO = [{"name": f"{a}_gyro", "sensor": "gyro", "axis": a, "placement": "wrist", "unit": "deg/s"} for a in "xyz"]
ACC = [{"name": f"{a}_acc", "sensor": "acc", "axis": a, "placement": "wrist", "unit": "g"} for a in "xyz"]


def write_watch(raw: Path, subjects: int = 9, gyro_scale: float = 1.0, seed: int = 0) -> Path:
    """One CSV per subject (``s1.csv`` …) with subject, recording, label, a marker channel ``t`` (10000 *
    recording number + sample index in the recording), wrist acc in g and gyro in deg/s (× ``gyro_scale``)."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True, exist_ok=True)
    for k in range(1, subjects + 1):
        rows = []
        pos = {"r1": 0, "r2": 0}
        for rec, code, n in LAYOUT:
            i = pos[rec] + np.arange(n)
            pos[rec] += n
            phase = 2 * np.pi * 0.8 * i / RATE
            rows.append(pd.DataFrame({
                "subject": f"s{k}", "recording": rec, "label": code,
                "t": 10000 * int(rec[1]) + i,
                "x_acc": 0.3 * np.sin(phase), "y_acc": -0.95 + 0.05 * rng.normal(size=n), "z_acc": 0.1,
                "x_gyro": gyro_scale * 120 * np.sin(phase), "y_gyro": gyro_scale * 60 * np.cos(phase),
                "z_gyro": gyro_scale * rng.normal(scale=5, size=n),
            }))
        pd.concat(rows).to_csv(raw / f"s{k}.csv", index=False)
    return raw


def watch_spec(**changes) -> dict:
    doc = {"name": "watch", "rate_hz": RATE, "channels": ["t", *ACC, *GYRO], "classes": CLASSES,
           "window": 100, "stride": 50, "test_subjects": ["s8", "s9"], "recording_column": "recording"}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def test_codes_recordings_and_spec_val_subjects(tmp_path, capsys):
    raw = write_watch(tmp_path / "raw")
    spec_path = tmp_path / "watch.yaml"
    spec_path.write_text(json.dumps(watch_spec(val_subjects=["s2", "s5"])))  # JSON is YAML
    out = tmp_path / "out"
    assert main(["prepare", "generic", "--spec", str(spec_path), "--raw", str(raw), "--out", str(out), "-q"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    names = ["pendulum swing", "shoulder abduction", "squat"]
    assert m["classes"] == names
    assert m["class_descriptions"] == [CLASSES[0]["description"], CLASSES[1]["description"], ""]
    assert [c["code"] for c in m["spec"]["classes"]] == ["PEN", "ABD", "SQT"]
    assert json.loads((out / "labels.json").read_text()) == [
        {"name": n, "description": d} for n, d in zip(names, m["class_descriptions"])]
    ds = open_prepared(out)
    assert ds.class_names == names and ds.class_descriptions == m["class_descriptions"]
    # one recording per (subject, recording); ABD is cut per recording: (250 - 100) / 50 + 1 = 4 windows each
    assert len(m["recordings"]) == 18
    assert [(r["subject"], r["recording"]) for r in m["recordings"][:2]] == [("s1", "r1"), ("s1", "r2")]
    assert m["splits"]["test"]["class_counts"] == {"pendulum swing": 2 * 5, "shoulder abduction": 2 * 8,
                                                   "squat": 2 * 5}
    assert m["splits"]["val"]["subjects"] == ["s2", "s5"] and m["spec"]["val_subjects"] == ["s2", "s5"]
    assert m["warnings"] == []
    for split in ("train", "val", "test"):
        t = ds.stage2(split).windows[:, :, 0]
        assert np.all(np.diff(t, axis=1) == 1), split  # contiguous samples of one recording
        assert np.all(t[:, 0] // 10000 == t[:, -1] // 10000), split
        recs = np.asarray(ds.stage2(split).recordings)
        assert all(int(t[i, 0]) // 10000 == int(m["recordings"][r]["recording"][1]) for i, r in enumerate(recs))
    assert "warning" not in capsys.readouterr().err


def test_recording_column_default_null_and_missing(tmp_path):
    raw = write_watch(tmp_path / "raw", subjects=2)
    # absent key: a column named "recording" is used when present (as before)
    spec = spec_from_dict(watch_spec(recording_column=None, test_subjects=[]))
    assert [r.name for r in spec.loader(spec, raw)] == ["r1", "r2", "r1", "r2"]
    # null: no recording column, one recording per subject and file
    spec = spec_from_dict({**watch_spec(test_subjects=[]), "recording_column": None})
    recs = list(spec.loader(spec, raw))
    assert [(r.subject, r.name, len(r.data)) for r in recs] == [("s1", "", 1100), ("s2", "", 1100)]
    # a named column that a file lacks
    spec = spec_from_dict(watch_spec(recording_column="session"))
    with pytest.raises(DataError, match=r"s1\.csv: missing columns \['session'\]"):
        list(spec.loader(spec, raw))
    assert "session" in spec.raw_layout
    # empty ids
    df = pd.read_csv(raw / "s2.csv")
    df.loc[7, "recording"] = None
    df.to_csv(raw / "s2.csv", index=False)
    spec = spec_from_dict(watch_spec())
    with pytest.raises(DataError, match=r"s2\.csv: line 9, column 'recording': empty recording id"):
        list(spec.loader(spec, raw))
    df.loc[7, "recording"] = "r1"
    df.loc[3, "subject"] = " "
    df.to_csv(raw / "s2.csv", index=False)
    with pytest.raises(DataError, match=r"s2\.csv: line 5, column 'subject': empty subject id"):
        list(spec.loader(spec, raw))
    with pytest.raises(DataError, match="recording_column 'subject' is also the subject_column"):
        spec_from_dict(watch_spec(recording_column="subject"))
    with pytest.raises(DataError, match="recording_column 't' is also a channel name"):
        spec_from_dict(watch_spec(recording_column="t"))


def test_label_cells_accept_codes_names_and_ids(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"subject": 1, "label": ["pen", "Pendulum Swing", "2", "ABD", "rest", None],
                  "t": range(6)}).to_csv(raw / "a.csv", index=False)
    spec = spec_from_dict(watch_spec(channels=["t"], ignore_labels=["rest"], recording_column=None,
                                     test_subjects=[]))
    (rec,) = spec.loader(spec, raw)
    assert rec.labels.tolist() == [0, 0, 2, 1, -1, -1]
    pd.DataFrame({"subject": 1, "label": ["PEN", "LUN"], "t": [0, 1]}).to_csv(raw / "a.csv", index=False)
    with pytest.raises(DataError, match=r"a\.csv: line 3: unknown label 'LUN' in column 'label'; "
                                        r"expected one of \['PEN', 'ABD', 'SQT'\]"):
        list(spec.loader(spec, raw))


@pytest.mark.parametrize("classes, message", [
    ([*CLASSES[:2], "SQT"],
     (r"watch\.yaml: classes\[2\] 'SQT' has no readable name, but other classes map a code to a name "
      r"\(classes\[0\]: 'PEN' -> 'pendulum swing'\)")),
    ([*CLASSES[:2], {"code": "pen", "name": "squat"}],
     r"classes\[2\] and classes\[0\] both use the label text 'pen'"),
    ([*CLASSES[:2], {"code": "SQT", "name": "Shoulder Abduction"}],
     r"classes\[2\] and classes\[1\] both use the label text 'shoulder abduction'"),
    ([*CLASSES[:2], {"code": "SQT", "label": "squat"}], r"classes\[2\] must be a name or a mapping with 'name'"),
    ([*CLASSES[:2], {"code": "SQT", "name": "squat", "description": "down\nand up"}],
     r"classes\[2\]\.description \('squat'\) must be one line"),
    ([*CLASSES[:2], {"code": "", "name": "squat"}], r"classes\[2\] \('squat'\): empty 'code'"),
    ([*CLASSES[:2], {"code": "SQT", "name": "squat", "id": "x"}],
     r"classes\[2\] \('squat'\): 'id' must be an integer; got 'x'"),
    ([*CLASSES[:2], {"code": "1", "name": "squat", "id": 5}],
     r"classes\[2\] uses the label text '1', which is the id of classes\[1\] \('shoulder abduction'\)"),
])
def test_bad_class_specs_name_file_entry_and_value(tmp_path, classes, message):
    path = tmp_path / "watch.yaml"
    path.write_text(json.dumps(watch_spec(classes=classes)))
    with pytest.raises(DataError, match=message):
        spec_from_yaml(path)


def test_bad_split_and_ignore_keys(tmp_path):
    with pytest.raises(DataError, match="ignore_labels entry 'sqt' is class classes\\[2\\] \\('squat'\\)"):
        spec_from_dict(watch_spec(ignore_labels=["SQT"]))
    with pytest.raises(DataError, match="give either 'val_subjects' or 'val_fraction', not both"):
        spec_from_dict(watch_spec(val_subjects=["s1", "s2"], val_fraction=0.2))
    with pytest.raises(DataError, match=r"subjects \['s8'\] are both validation and test subjects"):
        spec_from_dict(watch_spec(val_subjects=["s1", "s8"]))
    with pytest.raises(DataError, match=r"val_subjects \['s3'\] are not in train_subjects"):
        spec_from_dict(watch_spec(val_subjects=["s1", "s3"], train_subjects=["s1", "s2", "s4"]))
    raw = write_watch(tmp_path / "raw", subjects=3)
    spec = spec_from_dict(watch_spec(val_subjects=["s1", "s7"], test_subjects=["s3"]))
    with pytest.raises(DataError, match=r"validation subjects \['s7'\] \(the spec's val_subjects\) are not training"):
        prepare_dataset(spec, raw, tmp_path / "out", PrepareOptions(progress=False))
    # the command line overrides the spec's val_subjects
    m = prepare_dataset(spec, raw, tmp_path / "out", PrepareOptions(val_fraction=0.5, progress=False))
    assert len(m["splits"]["val"]["subjects"]) == 1


def test_single_validation_subject_warns_and_val_subjects_option(tmp_path, capsys):
    raw = write_watch(tmp_path / "raw")  # 9 subjects, 2 test: 0.15 of 7 training subjects = 1
    spec_path = tmp_path / "watch.yaml"
    spec_path.write_text(json.dumps(watch_spec(val_fraction=0.15)))
    args = ["prepare", "generic", "--spec", str(spec_path), "--raw", str(raw), "-q"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    (val,) = m["splits"]["val"]["subjects"]
    assert m["warnings"] == [(
        f"validation has 1 subject (subject {val}) of 7 training subjects: validation scores then measure one "
        "person and can differ widely from test scores; choose at least 2 with --val-subjects or the spec's "
        "val_subjects, or raise val_fraction to at least 0.22")]
    assert "warning: validation has 1 subject" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b"), "--val-subjects", "s3, s1"]) == 0
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["splits"]["val"]["subjects"] == ["s1", "s3"] and m["warnings"] == []
    assert main([*args, "--out", str(tmp_path / "c"), "--val-subjects", "s1", "--val-fraction", "0.3"]) == 1
    assert "--val-subjects cannot be combined" in capsys.readouterr().err
    # no warning when no validation was asked for
    spec = spec_from_dict(watch_spec(val_fraction=0))
    assert prepare_dataset(spec, raw, tmp_path / "d", PrepareOptions(progress=False))["warnings"] == []


def test_gyroscope_unit_check(tmp_path):
    # values in rad/s, spec says deg/s
    raw = write_watch(tmp_path / "rad", subjects=3, gyro_scale=1 / 57.2958)
    spec = spec_from_dict(watch_spec(test_subjects=["s3"], val_fraction=0))
    (w,) = prepare_dataset(spec, raw, tmp_path / "a", PrepareOptions(progress=False))["warnings"]
    assert w.startswith("gyroscope x_gyro, y_gyro, z_gyro (wrist) declared in deg/s, but its 99th-percentile "
                        "angular speed is at most 2.")
    assert "over all 6 recordings (highest in " in w and ".csv); below 15 deg/s looks like rad/s (multiply by 57.3)" in w
    # values in deg/s, spec says rad/s
    raw = write_watch(tmp_path / "deg", subjects=3)
    gyro = [{**g, "unit": "rad/s"} for g in GYRO]
    spec = spec_from_dict(watch_spec(channels=["t", *ACC, *gyro], test_subjects=["s3"], val_fraction=0))
    (w,) = prepare_dataset(spec, raw, tmp_path / "b", PrepareOptions(progress=False))["warnings"]
    assert w.startswith("gyroscope x_gyro, y_gyro, z_gyro (wrist) declared in rad/s, but its 99th-percentile "
                        "angular speed is 1")
    assert re.search(r" in \S*s[123]\.csv \(and 2 more file\(s\)\); above 40 rad/s looks like deg/s \(divide by 57\.3\)$", w)
    # the right unit: nothing to say
    spec = spec_from_dict(watch_spec(test_subjects=["s3"], val_fraction=0))
    assert prepare_dataset(spec, raw, tmp_path / "c", PrepareOptions(progress=False))["warnings"] == []
