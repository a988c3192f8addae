"""``sensorllm qa`` on a tiny prepared directory written here in the layout of ``datasets/prepared.py``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from sensorllm.cli.main import main
from sensorllm.datasets.prepared import open_prepared
from sensorllm.datasets.spec import ChannelSpec
from sensorllm.text.parse import parse_trend_answer
from sensorllm.text.stage1 import iter_stage1_records
from sensorllm.text.stage2 import iter_stage2_records
from sensorllm.text.trend import segment_trends

CHANNELS = [
    ChannelSpec("x_acc", "x-axis accelerometer", "acc", "x", "waist", "g"),
    ChannelSpec("y_acc", "y-axis accelerometer", "acc", "y", "waist", "g"),
    ChannelSpec("x_gyro", "x-axis gyroscope", "gyro", "x", "waist", "rad/s"),
]
CLASSES = [{"raw_id": 1, "name": "Walking"}, {"raw_id": 2, "name": "Sitting"}]
RATE = 20.0


def _write_split(root: Path, stage: str, split: str, arrays: dict) -> None:
    d = root / stage / split
    d.mkdir(parents=True, exist_ok=True)
    for k, v in arrays.items():
        np.save(d / f"{k}.npy", v)


def make_prepared(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n2, lens1 in (("train", 5, [1, 2, 7, 30, 12, 25]), ("test", 3, [5, 40, 3]), ("val", 0, [])):
        L = 16
        w = np.round(rng.normal(size=(n2, L, 3)), 1).astype(np.float32)
        if n2:
            w[0, :, 2] = 0.5  # a constant channel
        _write_split(root, "stage2", split, {
            "windows": w,
            "labels": rng.integers(0, 2, size=n2).astype(np.int64),
            "subjects": np.array([f"s{i % 2}" for i in range(n2)], dtype=str) if n2 else np.zeros(0, "<U1"),
            "starts": np.arange(n2, dtype=np.int64) * 8,
            "recordings": np.zeros(n2, dtype=np.int64),
        })
        offs = np.concatenate([[0], np.cumsum(lens1)]).astype(np.int64)
        vals = np.round(rng.normal(size=(int(offs[-1]), 3)), 1).astype(np.float32)
        n1 = len(lens1)
        _write_split(root, "stage1", split, {
            "values": vals,
            "offsets": offs,
            "labels": rng.integers(0, 2, size=n1).astype(np.int64),
            "subjects": np.array(["s1"] * n1, dtype=str) if n1 else np.zeros(0, "<U1"),
            "starts": np.zeros(n1, dtype=np.int64),
            "recordings": np.zeros(n1, dtype=np.int64),
        })
        splits[split] = {"windows": n2, "stage1_windows": n1}
    manifest = {
        "dataset": "tiny",
        "rate_hz": RATE,
        "channels": [c.name for c in CHANNELS],
        "classes": [c["name"] for c in CLASSES],
        "spec": {"channels": [dataclasses.asdict(c) for c in CHANNELS], "classes": CLASSES},
        "splits": splits,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return make_prepared(tmp_path_factory.mktemp("prepared"))


def read_jsonl(p: Path) -> list[dict]:
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]


def test_stage1_cli_records_and_reproducibility(prepared, tmp_path):
    out_a, out_b, out_c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    args = ["qa", "--data", str(prepared), "--stage", "1", "--no-progress"]
    assert main(args + ["--out", str(out_a), "--seed", "3"]) == 0
    assert main(args + ["--out", str(out_b), "--seed", "3"]) == 0
    assert main(args + ["--out", str(out_c), "--seed", "4"]) == 0
    files = sorted(p.name for p in out_a.iterdir())
    assert files == ["stage1_info.json", "stage1_test.jsonl", "stage1_train.jsonl"]  # val has no windows
    for name in files:
        assert (out_a / name).read_bytes() == (out_b / name).read_bytes()
    assert (out_a / "stage1_train.jsonl").read_bytes() != (out_c / "stage1_train.jsonl").read_bytes()

    recs = read_jsonl(out_a / "stage1_train.jsonl")
    assert len(recs) == 6 * 3
    assert [(r["index"], r["channel"]) for r in recs[:4]] == [(0, "x_acc"), (0, "y_acc"), (0, "x_gyro"), (1, "x_acc")]
    for key in ("index", "split", "channel", "description", "subject", "label", "label_name", "question", "answer",
                "summary", "n_segments", "length", "trend_mode"):
        assert key in recs[0]
    data = open_prepared(prepared)
    ws = data.stage1("train")
    for r in recs:
        c = [ch.name for ch in CHANNELS].index(r["channel"])
        x = ws[r["index"]][:, c]
        segs = segment_trends(x, RATE)
        p = parse_trend_answer(r["answer"] + "\n\n" + r["summary"])
        assert p.indices(RATE)[0].tolist() == segs.start_idx.tolist()
        assert p.indices(RATE)[2].tolist() == segs.trend.tolist()
        assert r["n_segments"] == len(segs) and r["length"] == len(x)
        assert r["label_name"] == CLASSES[r["label"]]["name"]
        assert CHANNELS[c].description in r["summary"]
    info = json.loads((out_a / "stage1_info.json").read_text())
    assert info["records"] == {"train": 18, "test": 9} and info["seed"] == 3


def test_order_and_chunk_independence(prepared):
    data = open_prepared(prepared)
    full = list(iter_stage1_records(data, "train", seed=1))
    small_chunks = list(iter_stage1_records(data, "train", seed=1, chunk=2))
    limited = list(iter_stage1_records(data, "train", seed=1, limit=2))
    assert full == small_chunks
    assert limited == full[: 2 * 3]
    s2 = list(iter_stage2_records(data, "train", seed=1))
    assert s2 == list(iter_stage2_records(data, "train", seed=1, chunk=1))


def test_stage2_cli(prepared, tmp_path):
    out = tmp_path / "s2"
    rc = main(["qa", "--data", str(prepared), "--out", str(out), "--stage", "2", "--seed", "0",
               "--preprocess-type", "smry+trend+corr+Q", "--split", "train", "--no-progress"])
    assert rc == 0
    recs = read_jsonl(out / "stage2_train.jsonl")
    assert len(recs) == 5
    r = recs[0]
    assert r["channels"] == ["x_acc", "y_acc", "x_gyro"]
    assert r["text"] == "\n".join([r["smry"], r["trend_text"], r["corr_text"], r["Q"]])
    assert "x-axis gyroscope is constant" in r["corr_text"]
    assert "Mean=0.5 rad/s, StdDev=0 rad/s" in r["smry"]
    assert r["label_name"] == CLASSES[r["label"]]["name"]
    assert not (out / "stage2_test.jsonl").exists()
    # the pieces do not depend on preprocess_type
    out2 = tmp_path / "s2b"
    assert main(["qa", "--data", str(prepared), "--out", str(out2), "--stage", "2", "--split", "train",
                 "--no-progress"]) == 0
    r2 = read_jsonl(out2 / "stage2_train.jsonl")[0]
    assert (r2["Q"], r2["trend_text"]) == (r["Q"], r["trend_text"]) and r2["text"] == r["smry"] + "\n" + r["Q"]


def test_tolerant_mode_cli(prepared, tmp_path):
    out = tmp_path / "tol"
    assert main(["qa", "--data", str(prepared), "--out", str(out), "--stage", "1", "--trend-mode", "tolerant",
                 "--min-duration", "0.2", "--no-progress"]) == 0
    recs = read_jsonl(out / "stage1_train.jsonl")
    assert all(r["trend_mode"] == "tolerant" for r in recs)
    exact = list(iter_stage1_records(open_prepared(prepared), "train"))
    assert sum(r["n_segments"] for r in recs) < sum(r["n_segments"] for r in exact)


def test_cli_errors(prepared, tmp_path, capsys):
    assert main(["qa", "--data", str(prepared), "--out", str(tmp_path / "x"), "--stage", "1", "--split", "val",
                 "--no-progress"]) == 1
    assert "no windows" in capsys.readouterr().err
    assert main(["qa", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x"), "--stage", "2"]) == 1
    assert "not a prepared dataset" in capsys.readouterr().err
    bad = make_prepared(tmp_path / "bad")
    v = np.load(bad / "stage1" / "train" / "values.npy")
    v[3, 1] = np.nan
    np.save(bad / "stage1" / "train" / "values.npy", v)
    assert main(["qa", "--data", str(bad), "--out", str(tmp_path / "y"), "--stage", "1", "--no-progress"]) == 1
    assert "y_acc" in capsys.readouterr().err


def test_records_for_selected_windows_equal_full_run_records(tmp_path):
    """Generating only some windows (training subsets) gives exactly the records of a full run."""
    from sensorllm.datasets import open_prepared
    from sensorllm.text import iter_stage1_records, iter_stage2_records

    d = tmp_path / "prep"
    make_prepared(d)
    data = open_prepared(d)
    for it in (iter_stage1_records, iter_stage2_records):
        full = list(it(data, "train", seed=5))
        n = len({r["index"] for r in full})
        pick = [1, n - 1] if n > 1 else [0]
        part = list(it(data, "train", seed=5, indices=pick))
        assert part == [r for r in full if r["index"] in pick]
