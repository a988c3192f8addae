"""`sensorllm stream` and :mod:`sensorllm.serve.stream` on a tiny random Stage-2 model: the stream gives the
same decisions as offline `predict`, the ring buffer is exact across chunk boundaries, smoothing math,
following a file that a thread appends to, replay at real speed vs as fast as possible, clear input errors."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sensorllm.cli.main import main
from sensorllm.datasets import DataError, get_dataset_spec
from sensorllm.serve.stream import Decision, EmaSmoother, RingBuffer, StreamClassifier, VoteSmoother
from sensorllm.serve.stream_io import CsvRowParser, follow_lines, replay

WINDOW, STRIDE, RATE = 32, 16, 50.0
SPEC = get_dataset_spec("uci-har")
NAMES = [c.name for c in SPEC.channels]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A tiny random Stage-2 checkpoint with the metadata `sensorllm tune` writes (short window for speed)."""
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.model.checkpoint import save_checkpoint

    cfg = SensorLLMConfig(channels=tuple(NAMES), llm=LLMConfig(name="tiny-random-llama", seed=0),
                          encoder=EncoderConfig(size="tiny", seed=0),
                          projector=ProjectorConfig(preset="custom", hidden=(64,), pool=4),
                          labels=tuple(c.name for c in SPEC.classes))
    extra = {"stage": "stage2", "dataset": SPEC.to_json(), "rate_hz": RATE, "window": WINDOW,
             "stride": STRIDE, "preprocess_type": "smry+Q", "trend_mode": "exact", "stat_digits": None,
             "text_seed": 3, "random_init_encoder": True}
    return save_checkpoint(build_sensor_llm(cfg, head_seed=1), tmp_path_factory.mktemp("ck") / "model", extra)


@pytest.fixture(scope="module")
def loaded(ckpt):
    from sensorllm.infer.artifact import load_sensorllm as load_model

    return load_model(ckpt)


def _signal(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 6)`` sensor-like samples: sines + steps + noise (acc in g, gyro in rad/s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / RATE
    x = np.sin(2 * np.pi * rng.uniform(0.3, 3, 6) * t + rng.uniform(0, 6, 6))
    x = x + (t > t.mean()) * rng.normal(size=6)
    return np.round(x + 0.1 * rng.normal(size=x.shape), 6)


def _write_csv(path: Path, x: np.ndarray) -> Path:
    """A recording with the columns in reverse order plus a timestamp column (matched by name)."""
    df = pd.DataFrame({n: x[:, j] for j, n in enumerate(NAMES)})[NAMES[::-1]]
    df.insert(0, "timestamp", np.arange(len(df)) / RATE)
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> tuple[Path, np.ndarray]:
    x = _signal(180)
    return _write_csv(tmp_path_factory.mktemp("rec") / "rec.csv", x), x


def _probs(decisions: list[Decision]) -> np.ndarray:
    return np.array([d.probs for d in decisions])


def _predict(model, meta, path: Path, stride: int, batch_size: int = 8) -> pd.DataFrame:
    """Offline prediction of every window of ``path``, as ``sensorllm predict`` makes it."""
    from sensorllm.infer.sensorllm import SensorLLMClassifier
    from sensorllm.serve.predict import predict_input
    from sensorllm.serve.recording import read_input

    clf = SensorLLMClassifier(model, meta)
    info = clf.info
    inp = read_input(path, info.channel_names, info.class_names, class_codes=info.class_codes)
    return predict_input(clf, inp, stride, batch_size).frame


# ---- same decisions as offline prediction -----------------------------------------------------------------


def test_stream_equals_offline_prediction(loaded, rec):
    model, meta = loaded
    path, x = rec
    parsed = CsvRowParser(NAMES, str(path)).feed(path.read_text().splitlines())
    assert np.array_equal(parsed, x)  # name-matched, reordered, timestamp ignored
    ref = _predict(model, meta, path, stride=STRIDE, batch_size=1)
    clf = StreamClassifier(model, meta, batch_size=1)
    assert clf.hop == STRIDE and clf.window == WINDOW
    rng = np.random.default_rng(1)
    out, pos = [], 0
    while pos < len(x):
        n = int(rng.integers(1, 40))
        out += clf.push(x[pos : pos + n])
        pos += n
    assert len(out) == len(ref) == (len(x) - WINDOW) // STRIDE + 1
    assert [d.index for d in out] == list(ref["window"])
    assert [d.label for d in out] == list(ref["label"])
    assert np.array_equal(_probs(out), ref.filter(like="p_").to_numpy())  # identical, not just close
    assert np.allclose([d.start_s for d in out], ref["start_s"])
    assert np.allclose([d.end_s for d in out], ref["end_s"])
    assert all(d.latency_ms >= 0 for d in out) and clf.stats.summary()["decisions"] == len(out)

    # another hop, several windows per model call: same up to batching round-off
    ref2 = _predict(model, meta, path, stride=24)
    clf2 = StreamClassifier(model, meta, hop=24, batch_size=4)
    out2 = clf2.push(x)
    assert len(out2) == len(ref2) and [d.label for d in out2] == list(ref2["label"])
    assert np.allclose(_probs(out2), ref2.filter(like="p_").to_numpy(), atol=1e-6)


# ---- ring buffer and window boundaries --------------------------------------------------------------------


def test_ring_buffer_random_chunks():
    rng = np.random.default_rng(0)
    for cap in (1, 5, 32):
        ring, seen = RingBuffer(cap, 3), np.zeros((0, 3))
        for _ in range(60):
            chunk = rng.normal(size=(int(rng.integers(0, 2 * cap + 3)), 3))
            ring.extend(chunk)
            seen = np.concatenate([seen, chunk])
            assert ring.total == len(seen) and ring.full == (len(seen) >= cap)
            assert np.array_equal(ring.window(), seen[-cap:])


class _Recorder(StreamClassifier):
    """Records the windows it would classify instead of running a model."""

    def _classify(self, batch):
        self.windows += [(p.index, p.end, p.window) for p in batch]
        return []


@pytest.mark.parametrize("window,hop", [(32, 16), (10, 1), (8, 8), (6, 11)])
def test_windows_across_random_chunk_boundaries(window, hop):
    model = SimpleNamespace(head=object(), config=SimpleNamespace(labels=("a", "b")))
    meta = {"extra": {"dataset": SPEC.to_json(), "window": window, "rate_hz": RATE, "stride": hop}}
    clf = _Recorder(model, meta)
    clf.windows = []
    x = np.random.default_rng(window + hop).normal(size=(500, 6))
    rng, pos = np.random.default_rng(hop), 0
    while pos < len(x):
        n = int(rng.integers(0, 3 * window))
        clf.push(x[pos : pos + n]) if n else None
        pos += n
    starts = np.arange(0, len(x) - window + 1, hop)
    assert [i for i, _, _ in clf.windows] == list(range(len(starts)))
    for (i, end, w), s in zip(clf.windows, starts, strict=True):
        assert end == s + window and np.array_equal(w, x[s : s + window])


# ---- smoothing ---------------------------------------------------------------------------------------------


def test_ema_and_vote_smoothing_math():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    ema, s = EmaSmoother(0.25), None
    for row in p:
        s = row if s is None else 0.25 * row + 0.75 * s
        k, prob = ema.update(row)
        assert k == int(np.argmax(s)) and prob == pytest.approx(s[k])
    assert ema.update(np.array([0.1, 0.2, 0.7]))[0] == 1  # slow to follow a one-off change: s = .31 .39 .31
    assert all(EmaSmoother(1.0).update(r) == (int(np.argmax(r)), pytest.approx(r.max())) for r in p)

    vote = VoteSmoother(3)
    assert vote.update(p[0]) == (0, pytest.approx(0.6))
    assert vote.update(p[1]) == (1, pytest.approx(0.5))   # 1-1 tie: class 1 has the higher mean (0.5 vs 0.4)
    assert vote.update(p[2]) == (1, pytest.approx(0.6))   # 2 votes for class 1 out of the last 3
    assert vote.update(p[3]) == (1, pytest.approx(0.6))   # window now p1..p3: class 1 still wins 2-1
    with pytest.raises(ValueError, match="smooth-alpha"):
        EmaSmoother(0.0)
    with pytest.raises(ValueError, match="smooth-n"):
        VoteSmoother(0)


def test_stream_reports_smoothed_values(loaded, rec):
    model, meta = loaded
    out = StreamClassifier(model, meta, smoother=EmaSmoother(0.5)).push(rec[1])
    s = None
    for d in out:
        p = np.asarray(d.probs)
        s = p if s is None else 0.5 * p + 0.5 * s
        assert d.smooth_label == model.config.labels[int(np.argmax(s))]
        assert d.smooth_prob == pytest.approx(s.max())


# ---- input sources: stdin, a followed file, replay ---------------------------------------------------------


def test_cli_stdin_matches_predict(ckpt, loaded, rec, tmp_path, monkeypatch, capsys):
    path, _ = rec
    monkeypatch.setattr("sys.stdin", io.StringIO(path.read_text()))
    out = tmp_path / "stdin.csv"
    assert main(["stream", "--model", str(ckpt), "--all-probs", "--smooth", "vote", "--out", str(out)]) == 0
    got, ref = pd.read_csv(out), _predict(*loaded, path, stride=STRIDE)
    assert list(got["label"]) == list(ref["label"]) and list(got["decision"]) == list(ref["window"])
    assert np.allclose(got.filter(like="p_").to_numpy(), ref.filter(like="p_").to_numpy(), atol=1e-6)
    assert {"smooth_label", "smooth_prob", "latency_ms", "end_sample"} <= set(got.columns)
    err = capsys.readouterr().err
    assert f"stream: {len(ref)} decisions" in err and "latency median" in err and "real-time factor" in err


def test_follow_lines_handles_partial_lines(tmp_path):
    path = tmp_path / "grow.csv"
    path.write_text("a,b\n1,2\n3,")
    parts = ["4\n5", ",6\n", "7,8"]  # the last line never gets its newline

    def writer():
        for part in parts:
            time.sleep(0.05)
            with open(path, "a") as fh:
                fh.write(part)

    t = threading.Thread(target=writer)
    t.start()
    lines = [ln for chunk, _ in follow_lines(path, idle_timeout=0.4, poll_s=0.01) for ln in chunk]
    t.join()
    assert lines == ["a,b", "1,2", "3,4", "5,6", "7,8"]
    assert [ln for c, _ in follow_lines(path, follow=False) for ln in c] == lines  # --no-follow: up to EOF


def test_cli_follow_file_appended_by_thread(ckpt, loaded, rec, tmp_path, capsys):
    src, x = rec
    text = src.read_text()
    path = tmp_path / "live.csv"
    path.write_text(text[:10])  # part of the header

    def writer():
        for a in range(10, len(text), 700):  # chunks that cut lines anywhere
            time.sleep(0.02)
            with open(path, "a") as fh:
                fh.write(text[a : a + 700])

    t = threading.Thread(target=writer)
    t.start()
    out = tmp_path / "live.jsonl"
    assert main(["stream", "--model", str(ckpt), "--follow", str(path), "--idle-timeout", "0.5",
                 "--poll", "0.01", "--format", "jsonl", "--out", str(out)]) == 0
    t.join()
    got = [json.loads(ln) for ln in out.read_text().splitlines()]
    ref = StreamClassifier(*loaded).push(x)
    assert [g["label"] for g in got] == [d.label for d in ref]
    assert np.allclose([g["prob"] for g in got], [d.prob for d in ref], atol=1e-6)
    assert [g["end_sample"] for g in got] == [d.end_sample for d in ref]
    capsys.readouterr()


def test_replay_real_speed_vs_as_fast_as_possible(loaded, tmp_path):
    model, meta = loaded
    x = _signal(int(2 * RATE), seed=5)  # a 2 s recording
    path = _write_csv(tmp_path / "two_s.csv", x)
    runs = {}
    for speed in (1.0, 0.0):
        got: list[Decision] = []
        slept: list[float] = []
        clf = StreamClassifier(model, meta)
        summary = replay(clf, path, speed, got.append, sleep=lambda s: (slept.append(s), time.sleep(s)))
        runs[speed] = (summary, got, sum(slept))
    (real, d_real, slept_real), (fast, d_fast, slept_fast) = runs[1.0], runs[0.0]
    assert len(d_real) == len(d_fast) == (len(x) - WINDOW) // STRIDE + 1
    assert [d.label for d in d_real] == [d.label for d in d_fast]
    assert np.array_equal(_probs(d_real), _probs(d_fast))
    assert real["wall_s"] >= 1.95 and slept_real > 0  # paced: the last sample is due 2.0 s after the start
    assert slept_fast == 0  # --speed 0 never waits
    assert real["signal_s"] == fast["signal_s"] == pytest.approx(2.0)
    assert real["latency_median_ms"] > 0 and fast["real_time_factor"] > 0


# ---- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body,match", [
    ("1,2,3,4,5,6\n", "line 1: expected a header row"),
    ("x_acc,y_acc,z_acc,x_gyro,y_gyro\n", r"missing channels \['z_gyro'\]"),
    ("{h}\n1,2,3,4,5,6\n1,2,3,4,5\n", "line 3: 5 fields, the header has 6"),
    ("{h}\n1,2,nan,4,5,6\n", "line 2, channel 'z_acc': value 'nan' is not finite"),
    ("{h}\n\n1,2,3,4,5,-inf\n", "line 3, channel 'z_gyro': value '-inf' is not finite"),
    ("{h}\n1,abc,3,4,5,6\n", "line 2, channel 'y_acc': non-numeric value 'abc'"),
    ("{h}\n1,2,3,,5,6\n", "line 2, channel 'x_gyro': missing value"),
    ("x_acc,x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro\n", r"duplicate columns \['x_acc'\]"),
])
def test_bad_csv_rows_are_named(body, match):
    parser = CsvRowParser(NAMES, "rec.csv")
    with pytest.raises(DataError, match=f"rec.csv.*{match}"):
        parser.feed(body.format(h=",".join(NAMES)).splitlines())


def test_bad_input_errors(loaded, ckpt, tmp_path, capsys):
    model, meta = loaded
    with pytest.raises(DataError, match="no header row"):
        CsvRowParser(NAMES, "<stdin>").finish()
    clf = StreamClassifier(model, meta)
    clf.push(np.zeros((3, 6)))
    with pytest.raises(DataError, match=r"sample 4, channel 'y_acc': value nan is not finite"):
        clf.push(np.array([[0, 0, 0, 0, 0, 0], [0, np.nan, 0, 0, 0, 0]]))
    with pytest.raises(DataError, match=r"shape \(n, 6\)"):
        clf.push(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="Stage-1 model"):
        StreamClassifier(SimpleNamespace(head=None), meta)
    with pytest.raises(ValueError, match=r"no \['window', 'rate_hz'\]"):
        StreamClassifier(model, {"extra": {"dataset": meta["extra"]["dataset"]}})
    with pytest.raises(ValueError, match="--hop must be ≥ 1 sample, got 0"):
        StreamClassifier(model, meta, hop=0)
    with pytest.raises(ValueError, match="--speed must be"):
        replay(clf, "unused.csv", -1.0, print)

    bad = tmp_path / "bad.csv"
    rows = "".join(f"0.{i % 7},0.2,0.3,0.4,0.5,0.{i % 5}\n" for i in range(40))  # not constant: a moving sensor
    bad.write_text(",".join(NAMES) + "\n" + rows + "0.1,0.2,inf,0.4,0.5,0.6\n")
    capsys.readouterr()
    assert main(["stream", "--model", str(ckpt), "--replay", str(bad), "--speed", "0"]) == 1
    err = capsys.readouterr().err
    assert f"sensorllm stream: error: {bad}, line 42, channel 'z_acc': value 'inf' is not finite" in err
    assert main(["stream", "--model", str(ckpt), "--follow", str(tmp_path / "nope.csv"), "--no-follow"]) == 1
    assert "missing file" in capsys.readouterr().err
    assert main(["stream", "--model", str(ckpt), "--speed", "2"]) == 1
    assert "--speed only applies to --replay" in capsys.readouterr().err


# ---- the encoder-reuse limit the docs state ----------------------------------------------------------------


def test_overlapping_windows_do_not_share_tokens(loaded):
    """The tokenizer in use normalises each window, so samples shared by overlapping windows get different
    ids: encoder outputs of the overlap cannot be reused (the stream encodes every window in full)."""
    import torch

    model, _ = loaded
    assert model.encoder.tokenizer.config.kind == "std_uniform"  # the default, the paper's
    x = torch.tensor(_signal(WINDOW + STRIDE)[:, 0])
    ids_a, _ = model.encoder.tokenizer(x[None, :WINDOW])
    ids_b, _ = model.encoder.tokenizer(x[None, STRIDE:])
    shared_a, shared_b = ids_a[0, STRIDE:WINDOW], ids_b[0, : WINDOW - STRIDE]  # the same raw samples
    assert not torch.equal(shared_a, shared_b)
