"""prepare(): windows, splits and manifest, on small files written in each official layout, and on the real
UCI HAPT recordings when ../shared is present."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from sensorllm.cli.main import main
from sensorllm.datasets import DataError, get_dataset_spec, open_prepared
from sensorllm.datasets.prepare import PrepareOptions, prepare_dataset

REAL_HAPT = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "UCI-HAPT" / "RawData"
REAL_UEA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def write_fake_hapt(root: Path, users=(1, 2, 3, 4), seed=0) -> Path:
    """HAPT RawData layout: one experiment per user; acc channel values encode (channel, sample)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    label_rows = []
    for exp, user in enumerate(users, 1):
        n = 1000
        acc = rng.normal(size=(n, 3))
        acc[:, 0] = 100 + np.arange(n)            # x_acc marker
        gyro = rng.normal(size=(n, 3))
        gyro[:, 2] = -7.0 + rng.normal(size=n)    # z_gyro marker
        for name, arr in (("acc", acc), ("gyro", gyro)):
            with gzip.open(root / f"{name}_exp{exp:02d}_user{user:02d}.txt.gz", "wt") as fh:
                np.savetxt(fh, arr)
        # walking 0..299, transition (7) 300..349, sitting 350..699, laying 700..999
        label_rows += [(exp, user, 1, 0, 299), (exp, user, 7, 300, 349), (exp, user, 4, 350, 699),
                       (exp, user, 6, 700, 999)]
    np.savetxt(root / "labels.txt", np.array(label_rows), fmt="%d")
    return root


def test_prepare_fake_hapt_windows_splits_manifest(tmp_path):
    raw = write_fake_hapt(tmp_path / "raw")
    spec = get_dataset_spec("uci-har").replace(test_subjects=("4",), val_fraction=0.34)
    m = prepare_dataset(spec, raw, tmp_path / "out", PrepareOptions(seed=3, progress=False))
    # per user: runs of 300, 350, 300 samples at window 128 / stride 64 → 3 + 4 + 3 windows
    total = sum(m["splits"][s]["windows"] for s in ("train", "val", "test"))
    assert total == 4 * 10
    assert m["splits"]["test"]["subjects"] == ["4"] and m["splits"]["test"]["windows"] == 10
    assert len(m["splits"]["val"]["subjects"]) == 1
    assert set(m["splits"]["val"]["subjects"]).isdisjoint(m["splits"]["train"]["subjects"])
    assert m["splits"]["test"]["class_counts"] == {
        "Walking": 3, "Walking upstairs": 0, "Walking downstairs": 0, "Sitting": 4, "Standing": 0, "Laying": 3}
    for key in ("dataset", "channels", "rate_hz", "window", "stride", "seed", "splits", "sources", "dropped"):
        assert key in m
    assert m["dataset"] == "uci-har" and m["window"] == 128 and m["stride"] == 64 and m["seed"] == 3
    assert len(m["sources"]) == 9 and all(len(s["sha256"]) == 64 for s in m["sources"])
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == m

    ds = open_prepared(tmp_path / "out")
    w = ds.stage2("test")
    assert w.windows.shape == (10, 128, 6) and w.windows.dtype == np.float32
    # channel order: x_acc carries 100 + sample index, so each window is a ramp starting at 100 + start
    np.testing.assert_allclose(w.windows[:, 0, 0], 100 + w.starts, rtol=1e-6)
    assert np.all(np.diff(w.windows[:, :, 0], axis=1) == 1)
    assert abs(float(w.windows[:, :, 5].mean()) + 7.0) < 0.2
    assert list(w.labels) == [0, 0, 0, 3, 3, 3, 3, 5, 5, 5]
    # every window lies inside one labelled segment: none crosses the transition 300..349
    assert not np.any((w.starts < 350) & (w.starts + 128 > 300))
    s1 = ds.stage1("train")
    lengths = s1.lengths()
    assert len(s1) > 0 and lengths.min() >= 5 and lengths.max() <= 200
    assert s1[0].shape == (lengths[0], 6)


def test_prepare_is_deterministic_and_seed_dependent(tmp_path):
    raw = write_fake_hapt(tmp_path / "raw")
    spec = get_dataset_spec("uci-har").replace(test_subjects=("4",))
    a = prepare_dataset(spec, raw, tmp_path / "a", PrepareOptions(seed=1, progress=False))
    b = prepare_dataset(spec, raw, tmp_path / "b", PrepareOptions(seed=1, progress=False))
    c = prepare_dataset(spec, raw, tmp_path / "c", PrepareOptions(seed=2, progress=False))
    assert a["files"] == b["files"]
    assert a["files"]["stage1/train/offsets.npy"] != c["files"]["stage1/train/offsets.npy"] or \
        a["splits"]["val"] != c["splits"]["val"]


def test_paper_split_and_explicit_val(tmp_path):
    raw = write_fake_hapt(tmp_path / "raw")
    spec = get_dataset_spec("uci-har").replace(test_subjects=("4",))
    m = prepare_dataset(spec, raw, tmp_path / "p", PrepareOptions(paper_split=True, progress=False))
    assert m["splits"]["val"]["subjects"] == [] and m["splits"]["val"]["windows"] == 0
    assert m["splits"]["train"]["subjects"] == ["1", "2", "3"]
    m = prepare_dataset(spec, raw, tmp_path / "v", PrepareOptions(val_subjects=("2",), progress=False))
    assert m["splits"]["val"]["subjects"] == ["2"] and m["splits"]["train"]["subjects"] == ["1", "3"]
    with pytest.raises(DataError, match="not training subjects"):
        prepare_dataset(spec, raw, tmp_path / "w", PrepareOptions(val_subjects=("4",), progress=False))


def test_long_gaps_drop_windows_and_are_counted(tmp_path):
    raw = write_fake_hapt(tmp_path / "raw", users=(1, 4))
    p = raw / "gyro_exp01_user01.txt.gz"
    arr = np.loadtxt(p)
    arr[10:12, 0] = np.nan        # short: interpolated
    arr[500:540, 1] = np.nan      # long: windows touching it dropped
    with gzip.open(p, "wt") as fh:
        np.savetxt(fh, arr)
    spec = get_dataset_spec("uci-har").replace(test_subjects=("4",), val_fraction=0.0)
    m = prepare_dataset(spec, raw, tmp_path / "out", PrepareOptions(progress=False))
    assert m["repaired"]["interpolated_values"] == 2
    assert m["dropped"]["stage2_windows_gap"] > 0
    assert m["splits"]["train"]["windows"] + m["dropped"]["stage2_windows_gap"] == 10
    w = open_prepared(tmp_path / "out").stage2("train")
    assert np.isfinite(w.windows).all()


def test_resampled_dataset_rate_and_counts(tmp_path):
    """PAMAP2-like 100 → 50 Hz through the generic path: windows are counted at the new rate."""
    import pandas as pd
    raw = tmp_path / "raw"
    raw.mkdir()
    n = 2000
    t = np.arange(n) / 100
    df = pd.DataFrame({"subject": ["s1"] * n, "label": ["walk"] * 1000 + ["sit"] * 1000,
                       "x_acc": np.sin(2 * np.pi * t)})
    df2 = df.assign(subject="s2")
    df.to_csv(raw / "a.csv", index=False)
    df2.to_parquet(raw / "b.parquet")
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text("name: toy\nrate_hz: 50\nraw_rate_hz: 100\nchannels: [x_acc]\nclasses: [walk, sit]\n"
                         "window: 100\nstride: 50\ntest_subjects: [s2]\nval_fraction: 0\n")
    out = tmp_path / "out"
    assert main(["prepare", "generic", "--spec", str(spec_path), "--raw", str(raw), "--out", str(out), "-q"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    # 1000 raw samples per label → 500 at 50 Hz → (500 - 100) / 50 + 1 = 9 windows per label
    assert m["splits"]["train"]["class_counts"] == {"walk": 9, "sit": 9}
    assert m["splits"]["test"]["windows"] == 18 and m["rate_hz"] == 50


def test_generic_bad_inputs(tmp_path):
    from sensorllm.datasets.generic import spec_from_yaml
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrate_hz: 50\nchannels: [a]\nclasses: [c]\nwindow: 10\nstride: 5\nwindw: 3\n")
    with pytest.raises(DataError, match="unknown keys: windw"):
        spec_from_yaml(bad)
    bad.write_text("name: x\nrate_hz: 50\nchannels: [a]\nclasses: [c]\nwindow: 10\nstride: 5\n")
    spec = spec_from_yaml(bad)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "f.csv").write_text("subject,label,a\n1,c,0.5\n1,c,oops\n")
    with pytest.raises(DataError, match=r"f\.csv: line 3, column 'a': non-numeric value 'oops'"):
        list(spec.loader(spec, raw))
    (raw / "f.csv").write_text("subject,label,a\n1,c,0.5\n1,dance,0.7\n")
    with pytest.raises(DataError, match=r"line 3: unknown label 'dance'"):
        list(spec.loader(spec, raw))
    (raw / "f.csv").write_text("subject,label\n1,c\n")
    with pytest.raises(DataError, match=r"missing columns \['a'\]"):
        list(spec.loader(spec, raw))


def test_hapt_bad_inputs(tmp_path):
    spec = get_dataset_spec("uci-har")
    with pytest.raises(DataError, match="does not exist"):
        list(spec.loader(spec, tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no acc_expEE_userUU"):
        list(spec.loader(spec, tmp_path / "empty"))
    raw = write_fake_hapt(tmp_path / "raw", users=(1,))
    with gzip.open(raw / "gyro_exp01_user01.txt.gz", "wt") as fh:
        fh.write("0.1 0.2 0.3\n0.1 0.2\n")
    with pytest.raises(DataError, match=r"gyro_exp01_user01\.txt\.gz: line 2: found 2 columns, expected 3"):
        list(spec.loader(spec, raw))
    with gzip.open(raw / "gyro_exp01_user01.txt.gz", "wt") as fh:
        fh.write("0.1 0.2 0.3\n0.1 x 0.3\n")
    with pytest.raises(DataError, match=r"line 2, column 2 \(1-based\): non-numeric cell 'x'"):
        list(spec.loader(spec, raw))
    (raw / "gyro_exp01_user01.txt.gz").write_bytes(gzip.compress(b"0.1 0.2 0.3\n" * 1000)[:50])
    with pytest.raises(DataError, match="gyro_exp01_user01"):
        list(spec.loader(spec, raw))
    (raw / "gyro_exp01_user01.txt.gz").unlink()
    with pytest.raises(DataError, match="missing file .*gyro_exp01_user01"):
        list(spec.loader(spec, raw))


def test_official_uci_har_layout(tmp_path):
    root = tmp_path / "UCI HAR Dataset"
    rng = np.random.default_rng(0)
    for split, subjects in (("train", [1, 1, 3]), ("test", [2, 2])):
        sig = root / split / "Inertial Signals"
        sig.mkdir(parents=True)
        n = len(subjects)
        for k, name in enumerate([f"total_acc_{a}" for a in "xyz"] + [f"body_gyro_{a}" for a in "xyz"]):
            np.savetxt(sig / f"{name}_{split}.txt", k + rng.normal(scale=0.01, size=(n, 128)))
        np.savetxt(root / split / f"subject_{split}.txt", subjects, fmt="%d")
        np.savetxt(root / split / f"y_{split}.txt", [1, 4, 6][:n], fmt="%d")
    spec = get_dataset_spec("uci-har").replace(test_subjects=("2",))
    m = prepare_dataset(spec, tmp_path, tmp_path / "out", PrepareOptions(paper_split=True, progress=False))
    assert m["splits"]["train"]["windows"] == 3 and m["splits"]["test"]["windows"] == 2
    w = open_prepared(tmp_path / "out").stage2("train").windows
    np.testing.assert_allclose(w.mean(axis=(0, 1)), np.arange(6), atol=0.01)


def write_fake_ts(path: Path, n_cases: int, n_dims: int, length: int, labels: list[str]) -> None:
    rng = np.random.default_rng(0)
    lines = ["#fake", "@problemName Fake", f"@dimensions {n_dims}", "@classLabel true " + " ".join(labels), "@data"]
    for i in range(n_cases):
        dims = [",".join(f"{v:.4f}" for v in rng.normal(size=length) + d) for d in range(n_dims)]
        lines.append(":".join(dims) + ":" + labels[i % len(labels)])
    path.write_text("\n".join(lines) + "\n")


def test_uea_fixed_split(tmp_path):
    labels = ["Standing", "Running", "Walking", "Badminton"]
    write_fake_ts(tmp_path / "BasicMotions_TRAIN.ts", 8, 6, 100, labels)
    write_fake_ts(tmp_path / "BasicMotions_TEST.ts", 4, 6, 100, labels)
    spec = get_dataset_spec("basicmotions")
    m = prepare_dataset(spec, tmp_path, tmp_path / "out", PrepareOptions(progress=False))
    assert m["splits"]["test"]["windows"] == 4
    assert m["splits"]["train"]["windows"] + m["splits"]["val"]["windows"] == 8
    assert m["splits"]["val"]["windows"] >= 1
    assert all(s.startswith("test-") for s in m["splits"]["test"]["subjects"])
    (tmp_path / "BasicMotions_TEST.ts").write_text("@data\n1,2:3,4:5,6:1,1:1,1:1,1:Sleeping\n")
    with pytest.raises(DataError, match="unknown label 'Sleeping'"):
        prepare_dataset(spec, tmp_path, tmp_path / "out2", PrepareOptions(progress=False))


def test_wrong_channel_count_is_reported(tmp_path):
    write_fake_ts(tmp_path / "X_TRAIN.ts", 2, 3, 50, ["Epilepsy"])
    spec = get_dataset_spec("basicmotions")
    with pytest.raises(DataError, match=r"X_TRAIN\.ts: line \d+: 3 dimensions, expected 6"):
        prepare_dataset(spec, tmp_path, tmp_path / "out", PrepareOptions(progress=False))


def test_cli_datasets_lists_paper_datasets(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("usc-had", "uci-har", "mhealth", "pamap2", "capture24"):
        assert name in out
    assert main(["prepare", "nope", "--raw", ".", "--out", "x"]) == 1
    assert "Unknown dataset 'nope'. Known:" in capsys.readouterr().err


@pytest.mark.skipif(not REAL_HAPT.exists(), reason="../shared/datasets/UCI-HAPT not present")
def test_real_uci_har(tmp_path, capsys):
    out = tmp_path / "uci"
    assert main(["prepare", "uci-har", "--raw", str(REAL_HAPT), "--out", str(out), "-q"]) == 0
    assert "train" in capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    total = sum(m["splits"][s]["windows"] for s in ("train", "val", "test"))
    assert 10_300 <= total <= 10_500  # 10,411 (the official UCI-HAR release has 10,299)
    assert m["splits"]["test"]["subjects"] == ["2", "4", "9", "10", "12", "13", "18", "20", "24"]
    assert len(m["splits"]["train"]["subjects"]) + len(m["splits"]["val"]["subjects"]) == 21
    for split in ("train", "val", "test"):
        assert all(v > 0 for v in m["splits"][split]["class_counts"].values()), split
    assert abs(m["splits"]["test"]["windows"] - 2947) < 100
    w = open_prepared(out).stage2("test").windows
    acc_norm = np.linalg.norm(w[:, :, :3], axis=-1)
    assert 0.9 < float(np.median(acc_norm)) < 1.1  # accelerometer in g (gravity ≈ 1)


@pytest.mark.skipif(not (REAL_UEA / "UEA-Epilepsy").exists(), reason="../shared/datasets not present")
def test_real_uea(tmp_path):
    for name, folder, n in (("basicmotions", "UEA-BasicMotions", 80), ("epilepsy", "UEA-Epilepsy", 275)):
        m = prepare_dataset(get_dataset_spec(name), REAL_UEA / folder, tmp_path / name, PrepareOptions(progress=False))
        assert sum(m["splits"][s]["windows"] for s in ("train", "val", "test")) == n


def test_unit_sanity_warns_on_mps2_declared_as_g(tmp_path, capsys):
    raw = write_fake_hapt(tmp_path / "raw", users=(1,))
    p = raw / "acc_exp01_user01.txt.gz"
    acc = np.loadtxt(p)
    acc[:] = [0.0, 9.81, 0.3]  # gravity in m/s^2 although the spec says g
    acc += np.random.default_rng(0).normal(scale=0.1, size=acc.shape)
    with gzip.open(p, "wt") as fh:
        np.savetxt(fh, acc)
    spec = get_dataset_spec("uci-har").replace(test_subjects=(), val_fraction=0.0)
    m = prepare_dataset(spec, raw, tmp_path / "out", PrepareOptions(progress=False))
    assert len(m["warnings"]) == 1 and "looks like m/s^2 (divide by 9.807)" in m["warnings"][0]
    assert "warning: waist accelerometer declared in g" in capsys.readouterr().err
