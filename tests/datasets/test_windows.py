import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorllm.datasets.windows import fixed_windows, label_runs, random_partition, repair_gaps, resample


def test_label_runs_skips_unlabelled_and_splits_on_change():
    lab = np.array([-1, 0, 0, 1, 1, 1, -1, -1, 0])
    assert label_runs(lab) == [(1, 3, 0), (3, 6, 1), (8, 9, 0)]
    assert label_runs(np.array([], dtype=int)) == []


def test_fixed_windows_with_and_without_tail():
    assert fixed_windows(10, 20, 4, 2).tolist() == [10, 12, 14, 16]
    assert fixed_windows(0, 11, 4, 3).tolist() == [0, 3, 6]
    assert fixed_windows(0, 11, 4, 3, tail=True).tolist() == [0, 3, 6, 7]
    assert fixed_windows(0, 3, 4, 2).tolist() == []


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 600), lo=st.integers(1, 20), span=st.integers(0, 200), seed=st.integers(0, 2**16))
def test_random_partition_is_consecutive_and_in_range(n, lo, span, seed):
    hi = lo + span
    parts = random_partition(5, 5 + n, lo, hi, np.random.default_rng(seed))
    pos = 5
    for a, b in parts:
        assert a == pos and lo <= b - a <= hi
        pos = b
    assert 5 + n - pos < lo or not parts and n < lo  # only a remainder shorter than lo can be left over


def test_repair_gaps_interpolates_short_and_marks_long():
    x = np.arange(40, dtype=float)[:, None].repeat(2, 1)
    x[5:7, 0] = np.nan          # short gap: repaired
    x[20:35, 1] = np.inf        # long gap: marked invalid
    clean, valid, rep = repair_gaps(x, max_gap=3)
    assert np.isfinite(clean).all()
    np.testing.assert_allclose(clean[5:7, 0], [5, 6])
    assert valid[:20].all() and not valid[20:35].any() and valid[35:].all()
    assert rep.nonfinite_values == 17 and rep.interpolated_values == 2 and rep.invalid_samples == 15


def test_repair_gaps_all_nan_channel_invalidates_recording():
    x = np.ones((10, 2))
    x[:, 1] = np.nan
    _, valid, _ = repair_gaps(x, 3)
    assert not valid.any()


def test_resample_halves_rate_without_aliasing():
    t = np.arange(2000) / 100.0
    low = np.sin(2 * np.pi * 2 * t)           # 2 Hz: kept
    high = np.sin(2 * np.pi * 40 * t)         # 40 Hz: above the new Nyquist (25 Hz), must be filtered out
    x = np.stack([low + high], axis=1)
    lab = (t > 10).astype(int)
    valid = np.ones(len(t), bool)
    valid[1000:1010] = False
    y, ylab, yvalid = resample(x, lab, valid, 100, 50)
    assert y.shape == (1000, 1) and ylab.shape == (1000,)
    ref = np.sin(2 * np.pi * 2 * t[::2])
    assert np.abs(y[50:-50, 0] - ref[50:-50]).max() < 0.05
    assert ylab[400] == 0 and ylab[600] == 1
    assert not yvalid[500:505].any() and yvalid[:400].all() and yvalid[700:].all()
