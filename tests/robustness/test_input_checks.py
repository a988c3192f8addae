"""Input checks at inference (sensorllm.serve.input_checks): dead channels, values beyond the sensor range, inf cells
and a time column at another rate, each counted and named (file, channel, count, value), warnings or errors as
docs/robustness.md says. No model is needed: the checks read the model's JSON-level info only."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sensorllm.datasets.spec import ChannelSpec, DataError
from sensorllm.serve.input_checks import check_recording, check_window, enforce_input, time_seconds
from sensorllm.serve.recording import read_input

RATE, WINDOW, STRIDE = 10.0, 20, 10
CH = [ChannelSpec(f"{a}_acc", "", "acc", a, "wrist", "g", 4.0) for a in "xyz"]
INFO = SimpleNamespace(channel_names=[c.name for c in CH], channels=CH, window=WINDOW, rate_hz=RATE, stride=STRIDE)


def frame(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(scale=0.3, size=(n, 3)), columns=INFO.channel_names)
    df.insert(0, "time", np.arange(n) / RATE)
    return df


def check(tmp_path, df: pd.DataFrame, name: str = "rec.csv", **kw):
    path = tmp_path / name
    df.to_csv(path, index=False)
    inp = read_input(path, INFO.channel_names, **kw)
    return path, check_recording(inp, INFO)


def test_clean_input_has_no_issue_and_notes_the_rate(tmp_path):
    _, c = check(tmp_path, frame())
    assert c.issues == [] and c.notes == ["sampling rate from column 'time' (seconds): 10 Hz, the model's 10 Hz"]


def test_dead_channel_counted_in_windows_and_all_dead_is_an_error(tmp_path):
    df = frame()
    df.loc[:49, "y_acc"] = 0.0  # rows 0..49: windows starting at 0, 10, 20, 30 lie inside
    path, c = check(tmp_path, df)
    (i,) = c.issues
    assert (i.kind, i.channel, i.count, i.value, i.error) == ("dead_channel", "y_acc", 4, 0.0, False)
    assert i.message.startswith(f"{path}: channel 'y_acc' is constant (value 0) in 4 of 9 windows")
    assert enforce_input(c, log=lambda s: None) == [i.message]

    still = frame()
    still[INFO.channel_names] = [0.0, 0.0, 1.0]
    _, c = check(tmp_path, still)
    (i,) = c.issues
    assert i.error and "every channel is constant in every one of the 9 windows (x_acc = 0, y_acc = 0, z_acc = 1)" \
        in i.message
    with pytest.raises(DataError, match="no signal to classify. Fix the input, or pass --force to predict anyway"):
        enforce_input(c, log=lambda s: None)
    lines: list[str] = []
    enforce_input(c, force=True, log=lines.append)
    assert lines[0].startswith("warning: ") and lines[0].endswith("(continuing: --force)")


def test_values_beyond_the_sensor_range_are_counted_with_the_largest(tmp_path):
    df = frame()
    df.loc[[3, 40], "z_acc"] = [9.81, -5.0]
    path, c = check(tmp_path, df)
    (i,) = c.issues
    assert (i.kind, i.channel, i.count, i.value, i.error) == ("out_of_range", "z_acc", 2, 9.81, False)
    assert f"{path}: channel 'z_acc': 2 of 100 samples beyond the sensor's range ±4 g (largest 9.81)" in i.message


def test_inf_cells_are_counted_and_a_channel_without_finite_values_is_an_error(tmp_path):
    df = frame()
    df.loc[[7, 8, 60], "x_acc"] = [np.inf, -np.inf, np.inf]
    path, c = check(tmp_path, df)
    (i,) = c.issues
    assert (i.kind, i.channel, i.count, i.error) == ("inf", "x_acc", 3, False)
    assert f"{path}: channel 'x_acc': 3 inf cell(s) at rows 8, 9, 61 (first: inf): treated as missing" in i.message
    df["x_acc"] = np.inf
    _, c = check(tmp_path, df)
    assert [(i.kind, i.error) for i in c.issues] == [("inf", True)]
    assert "no finite value at all" in c.issues[0].message


def test_time_column_rate_units_and_irregular_intervals(tmp_path):
    df = frame()
    df["time"] = df["time"] * 0.5  # 20 Hz against the model's 10 Hz
    path, c = check(tmp_path, df)
    (i,) = c.issues
    assert (i.kind, i.error, i.value) == ("rate", True, pytest.approx(20.0))
    assert (f"{path}: column 'time' (seconds) gives 20 Hz (median interval 50 ms), the model was trained at 10 Hz"
            in i.message) and "resample the recording to 10 Hz" in i.message
    with pytest.raises(DataError, match="gives 20 Hz"):
        enforce_input(c, log=lambda s: None)

    ms = frame().rename(columns={"time": "timestamp"})
    ms["timestamp"] = 1.7e12 + ms["timestamp"] * 1000  # epoch milliseconds, detected by the interval
    _, c = check(tmp_path, ms)
    assert c.issues == [] and "(milliseconds): 10 Hz" in c.notes[0]
    dates = frame()
    dates["time"] = pd.Timestamp("2024-05-01 10:00") + pd.to_timedelta(dates["time"], unit="s")
    _, c = check(tmp_path, dates)
    assert c.issues == [] and "(dates): 10 Hz" in c.notes[0]
    t, how = time_seconds(np.arange(5) * 100.0, "t_ms", 50.0)  # the name's unit wins over the interval
    assert how == "milliseconds" and t[1] == pytest.approx(0.1)

    gaps = frame()
    gaps.loc[50:, "time"] += 3.0  # one pause of 3 s: counted, not an error
    _, c = check(tmp_path, gaps)
    (i,) = c.issues
    assert (i.kind, i.count, i.error) == ("irregular_time", 1, False) and "1 of 99 intervals" in i.message

    assert check(tmp_path, frame().drop(columns="time"))[1].notes == []  # no time column: nothing measured
    other = frame()
    other["time"] = other["time"] * 3
    path = tmp_path / "t.csv"
    other.to_csv(path, index=False)
    assert check_recording(read_input(path, INFO.channel_names, time_column=""), INFO).issues == []
    with pytest.raises(DataError, match="no time column 'clock'"):
        read_input(path, INFO.channel_names, time_column="clock")


def test_rate_is_measured_inside_recordings_only(tmp_path):
    a, b = frame(60, 1), frame(60, 2)  # each recording's time starts again at 0
    a.insert(0, "recording", "a")
    b.insert(0, "recording", "b")
    _, c = check(tmp_path, pd.concat([a, b]))
    assert c.issues == []


def test_live_window_checks(tmp_path):
    w = frame(WINDOW)[INFO.channel_names].to_numpy().copy()
    assert check_window(w, INFO, "<stdin> (first window)").issues == []
    w[:, 1] = 0.25
    w[0, 0] = 100.0
    kinds = {(i.kind, i.channel) for i in check_window(w, INFO, "<stdin> (first window)").issues}
    assert kinds == {("dead_channel", "y_acc"), ("out_of_range", "x_acc")}
