"""Property-based fuzzing: random arrays with NaN, inf, constants, huge and tiny values and any length must
give either a result or one of the project's own clear errors — never an unhandled exception."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensorllm.datasets import DataError, get_dataset_spec
from sensorllm.datasets.generic import spec_from_dict
from sensorllm.datasets.prepare import PrepareOptions, prepare_dataset
from sensorllm.datasets.windows import fixed_windows, label_runs, random_partition, repair_gaps, resample
from sensorllm.text import parse_trend_answer, segment_trends, stage1_qa, stage2_text

SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e300, -1e300, 1e-300, 5e-324, 1.0])
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), SPECIAL)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(x=arrays(np.float64, st.tuples(st.integers(0, 60), st.integers(1, 3)), elements=VALUES),
       max_gap=st.integers(0, 8))
def test_repair_and_resample(x, max_gap):
    clean, valid, rep = repair_gaps(x, max_gap)
    assert clean.shape == x.shape and valid.shape == (len(x),)
    assert not np.isnan(clean).any()
    if len(x) >= 2 and np.isfinite(clean).all():
        labels = np.zeros(len(x), dtype=np.int64)
        with np.errstate(all="ignore"):
            y, yl, yv = resample(clean, labels, valid, 100, 50)
        assert len(y) == len(yl) == len(yv)


@SETTINGS
@given(lab=arrays(np.int64, st.integers(0, 80), elements=st.integers(-1, 3)), w=st.integers(1, 20),
       s=st.integers(1, 20), seed=st.integers(0, 99))
def test_windowing(lab, w, s, seed):
    for a, b, k in label_runs(lab):
        assert (lab[a:b] == k).all()
        starts = fixed_windows(a, b, max(w, 2), s, tail=True)
        assert ((starts >= a) & (starts + max(w, 2) <= b)).all()
        parts = random_partition(a, b, 1, w, np.random.default_rng(seed))
        assert all(1 <= e - st_ <= w for st_, e in parts)


@SETTINGS
@given(x=arrays(np.float64, st.integers(0, 40), elements=VALUES), seed=st.integers(0, 9))
def test_text_generation(x, seed):
    spec = get_dataset_spec("uci-har")
    try:
        qa = stage1_qa(x, spec.channels[0], 50.0, np.random.default_rng(seed))
    except ValueError as exc:  # the project's clear error: names the channel and the problem
        assert "x-axis accelerometer" in str(exc) or "x_acc" in str(exc) or "empty" in str(exc).lower()
        return
    parsed = parse_trend_answer(qa["answer"] + "\n\n" + qa["summary"])
    assert len(parsed.segments) == len(qa["segments"])


@SETTINGS
@given(w=arrays(np.float64, st.tuples(st.integers(1, 30), st.just(3)), elements=VALUES), seed=st.integers(0, 9))
def test_stage2_text(w, seed):
    chans = get_dataset_spec("epilepsy").channels
    try:
        out = stage2_text(w, chans, 16.0, np.random.default_rng(seed), "smry+trend+corr+Q")
    except ValueError as exc:
        assert any(c.description in str(exc) or c.name in str(exc) for c in chans), str(exc)
        return
    assert out["text"] and "nan" not in out["smry"].lower()


@SETTINGS
@given(text=st.text(max_size=300))
def test_parser_never_crashes(text):
    parse_trend_answer(text)


@SETTINGS
@given(x=arrays(np.float64, st.integers(0, 30), elements=VALUES), mode=st.sampled_from(["exact", "tolerant"]))
def test_segmentation(x, mode):
    try:
        segs = segment_trends(x, 10.0, mode=mode)
    except ValueError:
        return
    assert segs.length == len(x) and (len(segs) == 0 or segs.start_idx[0] == 0)


SPEC = spec_from_dict({"name": "fuzz", "rate_hz": 10, "channels": ["a", "b"], "classes": ["p", "q"],
                       "window": 4, "stride": 2, "stage1_window": [2, 6], "val_fraction": 0})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(st.sampled_from(["p", "q", "", "zzz"]),
                                st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["x", ""])),
                                st.floats(allow_nan=True, allow_infinity=True)), max_size=30))
def test_generic_loader_and_prepare(tmp_path_factory, cells):
    raw = tmp_path_factory.mktemp("raw")
    lines = ["subject,label,a,b"] + [f"s1,{lab},{a},{b}" for lab, a, b in cells]
    (raw / "f.csv").write_text("\n".join(lines) + "\n")
    try:
        prepare_dataset(SPEC, raw, tmp_path_factory.mktemp("out"), PrepareOptions(progress=False))
    except DataError as exc:
        assert "f.csv" in str(exc) or "no recordings" in str(exc) or "empty" in str(exc), str(exc)
