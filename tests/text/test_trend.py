"""Trend segmentation: golden sequences, edge cases, batch = per-window = plain loop, tiling properties,
tolerant mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorllm.text.segments import DECREASE, INCREASE, STEADY, format_time
from sensorllm.text.trend import segment_batch, segment_trends, segment_windows

RATES = [10.0, 20.0, 25.0, 32.0, 50.0, 100.0]


def segs_of(x, rate=50.0, **kw):
    s = segment_trends(np.asarray(x, dtype=np.float64), rate, **kw)
    return list(zip(s.start_idx.tolist(), s.end_idx.tolist(), s.trend.tolist()))


def loop_reference(x: list[float]) -> list[tuple[int, int, int]]:
    """The reference semantics as a plain loop (pairs → labels → merged runs)."""
    if len(x) == 1:
        return [(0, 0, STEADY)]
    labels = [0 if a == b else (1 if a < b else -1) for a, b in zip(x[:-1], x[1:])]
    out, s = [], 0
    for i in range(1, len(labels)):
        if labels[i] != labels[i - 1]:
            out.append((s, i, labels[i - 1]))
            s = i
    out.append((s, len(labels), labels[-1]))
    return out


# ---- golden ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, expected",
    [
        ([1, 1, 1, 1], [(0, 3, STEADY)]),
        ([1, 2, 3, 4], [(0, 3, INCREASE)]),
        ([4, 3, 2, 1], [(0, 3, DECREASE)]),
        ([0, 0, 0, 1, 1, 1], [(0, 2, STEADY), (2, 3, INCREASE), (3, 5, STEADY)]),
        ([5, 5, 4, 5, 5], [(0, 1, STEADY), (1, 2, DECREASE), (2, 3, INCREASE), (3, 4, STEADY)]),
        ([1, 2, 2, 1], [(0, 1, INCREASE), (1, 2, STEADY), (2, 3, DECREASE)]),
        ([1, 2], [(0, 1, INCREASE)]),
        ([2, 1], [(0, 1, DECREASE)]),
        ([2, 2], [(0, 1, STEADY)]),
        ([7], [(0, 0, STEADY)]),
        ([1, 3, 2, 4, 3], [(0, 1, INCREASE), (1, 2, DECREASE), (2, 3, INCREASE), (3, 4, DECREASE)]),
    ],
)
def test_golden_sequences(x, expected):
    assert segs_of(x) == expected


def test_reference_example_times_and_values():
    # method-reference §2.2 example 1 (8 samples @ 50 Hz)
    x = [-9.61, -9.58, -9.46, -9.31, -9.27, -9.37, -9.25, -9.31]
    s = segment_trends(np.array(x), 50)
    assert s.start_time.tolist() == [0.0, 0.08, 0.1, 0.12]
    assert s.end_time.tolist() == [0.08, 0.1, 0.12, 0.14]
    assert s.trend.tolist() == [INCREASE, DECREASE, INCREASE, DECREASE]
    assert s.start_value.tolist() == [-9.61, -9.27, -9.37, -9.25]
    assert s.end_value.tolist() == [-9.27, -9.37, -9.25, -9.31]
    assert s.n_changes == 3
    assert s.counts() == {DECREASE: 2, INCREASE: 2}
    assert s.total_steps() == {INCREASE: 5, DECREASE: 2}
    assert s.overall() == INCREASE
    assert [format_time(i, 50) for i in (0, 4, 5, 7)] == ["0.0", "0.08", "0.1", "0.14"]


def test_constant_channel_and_single_sample():
    s = segment_trends(np.full(100, 3.25, dtype=np.float32), 50)
    assert len(s) == 1 and s.trend[0] == STEADY and s.span == pytest.approx(99 / 50)
    assert s.overall() == STEADY and s.n_changes == 0
    one = segment_trends(np.array([1.5]), 50)
    assert len(one) == 1 and one.start_idx[0] == one.end_idx[0] == 0 and one.trend[0] == STEADY
    assert one.durations.tolist() == [0.0] and one.span == 0.0 and one.step_labels().size == 0


def test_errors():
    with pytest.raises(ValueError, match="empty"):
        segment_trends(np.array([]), 50)
    with pytest.raises(ValueError, match="chest_x_acc"):
        segment_trends(np.array([1.0, np.nan, 2.0]), 50, channel="chest_x_acc")
    with pytest.raises(ValueError, match="non-finite"):
        segment_trends(np.array([1.0, np.inf]), 50)
    with pytest.raises(ValueError, match="rate"):
        segment_trends(np.array([1.0, 2.0]), 0)
    with pytest.raises(ValueError, match="mode"):
        segment_trends(np.array([1.0, 2.0]), 50, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1-D"):
        segment_trends(np.zeros((3, 2)), 50)
    with pytest.raises(ValueError, match="window 1 is empty"):
        segment_batch(np.zeros((3, 1)), np.array([0, 3, 3]), 50)
    with pytest.raises(ValueError, match="'gyro'.*window 1"):
        vals = np.zeros((6, 2))
        vals[4, 1] = np.nan
        segment_batch(vals, np.array([0, 3, 6]), 50, channel_names=["acc", "gyro"])


def test_integer_and_float32_input():
    assert segs_of(np.array([1, 2, 2, 1], dtype=np.int16)) == [(0, 1, 1), (1, 2, 0), (2, 3, -1)]
    # float32 equality is exact equality of the stored values
    x = np.array([0.1, 0.1, 0.2], dtype=np.float32)
    assert segs_of(x) == [(0, 1, STEADY), (1, 2, INCREASE)]


# ---- batch vs single vs loop ---------------------------------------------------------------------------

window_lists = st.lists(
    st.lists(st.integers(-3, 3), min_size=1, max_size=40), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(windows=window_lists, n_channels=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_batch_equals_single_and_loop(windows, n_channels, seed):
    rng = np.random.default_rng(seed)
    lengths = [len(w) for w in windows]
    offs = np.concatenate([[0], np.cumsum(lengths)])
    cols = [np.concatenate([np.asarray(w, float) for w in windows])]
    for _ in range(n_channels - 1):
        cols.append(rng.integers(-2, 3, size=offs[-1]).astype(float))
    vals = np.stack(cols, axis=1)
    table = segment_batch(vals, offs, 25.0)
    assert table.n_segments().shape == (len(windows), n_channels)
    arrays = table.arrays()
    assert arrays["trend"].shape[0] == len(table)
    for i in range(len(windows)):
        for c in range(n_channels):
            x = vals[offs[i]:offs[i + 1], c]
            got = table.get(i, c)
            single = segment_trends(x, 25.0)
            assert got.same_as(single)
            assert list(zip(got.start_idx.tolist(), got.end_idx.tolist(), got.trend.tolist())) == loop_reference(
                x.tolist()
            )
            assert got.start_value.tolist() == x[got.start_idx].tolist()
            assert got.end_value.tolist() == x[got.end_idx].tolist()
            rows = (arrays["window"] == i) & (arrays["channel"] == c)
            assert arrays["start_idx"][rows].tolist() == got.start_idx.tolist()
            assert arrays["end_idx"][rows].tolist() == got.end_idx.tolist()


def test_segment_windows_matches_batch():
    rng = np.random.default_rng(1)
    w = np.round(rng.normal(size=(5, 30, 4)), 1)
    a = segment_windows(w, 50)
    b = segment_batch(w.reshape(150, 4), np.arange(6) * 30, 50)
    for i in range(5):
        for c in range(4):
            assert a.get(i, c).same_as(b.get(i, c))
    with pytest.raises(IndexError):
        a.get(5, 0)


# ---- properties ---------------------------------------------------------------------------------------

values = st.lists(st.integers(-5, 5) | st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=80)


def check_tiling(s, x):
    L = len(x)
    assert s.start_idx[0] == 0 and s.end_idx[-1] == L - 1
    assert np.array_equal(s.start_idx[1:], s.end_idx[:-1])  # neighbours share their boundary sample
    if L > 1:
        assert (s.steps > 0).all()
        assert (s.trend[1:] != s.trend[:-1]).all()  # neighbours differ in trend
    assert s.durations.sum() == pytest.approx(s.span)
    assert s.steps.sum() == L - 1
    assert sum(s.counts().values()) == len(s)


@settings(max_examples=200, deadline=None)
@given(x=values, rate=st.sampled_from(RATES))
def test_exact_properties(x, rate):
    s = segment_trends(np.array(x, dtype=np.float64), rate)
    check_tiling(s, x)
    np.testing.assert_array_equal(s.step_labels(), np.sign(np.diff(np.array(x, dtype=np.float64))))
    if len(x) > 1:
        assert s.overall() == int(np.sign(x[-1] - x[0]))


@settings(max_examples=150, deadline=None)
@given(x=values, rate=st.sampled_from(RATES), tol=st.sampled_from([0.0, 0.05, 0.2, 1.0]),
       min_dur=st.sampled_from([0.0, 0.05, 0.1, 0.3]))
def test_tolerant_properties(x, rate, tol, min_dur):
    xa = np.array(x, dtype=np.float64)
    s = segment_trends(xa, rate, mode="tolerant", tol=tol, min_duration=min_dur)
    check_tiling(s, x)
    h = tol * xa.std()
    net = s.end_value - s.start_value
    want = np.where(np.abs(net) <= h, 0, np.sign(net))
    np.testing.assert_array_equal(s.trend, want)  # trends agree with the net change
    min_steps = int(np.ceil(min_dur * rate - 1e-9))
    if len(s) > 1 and min_steps > 1:
        # merging leaves no short segment (relabelling only joins segments)
        assert (s.steps >= min_steps).all()


@settings(max_examples=100, deadline=None)
@given(x=values, rate=st.sampled_from(RATES))
def test_tolerant_zero_equals_exact(x, rate):
    xa = np.array(x, dtype=np.float64)
    assert segment_trends(xa, rate, mode="tolerant", tol=0.0, min_duration=0.0).same_as(segment_trends(xa, rate))


def test_tolerant_smooths_noise():
    rng = np.random.default_rng(0)
    t = np.arange(100) / 50
    x = np.sin(2 * np.pi * 0.5 * t) + rng.normal(0, 0.02, size=100)
    exact = segment_trends(x, 50)
    tol = segment_trends(x, 50, mode="tolerant")  # defaults: tol 0.05, min_duration 0.1 s
    assert len(exact) > 20
    assert tol.trend.tolist() == [INCREASE, DECREASE, INCREASE]
    assert 0.35 <= tol.end_time[0] <= 0.6 and 1.3 <= tol.end_time[1] <= 1.6
    # the steady tolerance makes the overall direction tolerant too
    flat = segment_trends(np.array([0.0, 1.0, -1.0, 0.01]), 50, mode="tolerant", tol=0.1, min_duration=0)
    assert flat.overall() == STEADY
