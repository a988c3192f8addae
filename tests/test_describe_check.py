"""``describe`` checks its own description against the window's trends (issue: a `describe` a user can trust)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorllm.serve.predict import description_check

# 50 samples at 50 Hz: rising from 0.0 s to 0.5 s, falling back from 0.5 s to the last sample at 0.98 s
UP_DOWN = np.r_[np.linspace(0, 1, 26), np.linspace(1, 0, 25)[1:]]


def test_a_correct_description_passes_every_check():
    text = "From 0.0s to 0.5s: increasing\nFrom 0.5s to 0.98s: decreasing\n\nOverall the data follows a steady trend."
    c = description_check(text, UP_DOWN, 50.0)
    assert c["last_sample_s"] == pytest.approx(0.98)
    assert (c["segments_in_text"], c["segments_in_data"]) == (2, 2)
    assert c["trend_accuracy"] == pytest.approx(1.0) and c["overall_right"]
    assert not c["names_time_outside_window"] and not c["names_trend_not_in_data"]


def test_invented_times_and_trends_are_flagged():
    c = description_check("0.0-0.5s: upward\n0.5-2.4s: steady", UP_DOWN, 50.0, "tolerant")
    assert c["names_time_outside_window"]  # 2.4 s is after the last sample (0.98 s)
    assert c["names_trend_not_in_data"]  # the window has no steady part
    assert c["trend_accuracy"] == pytest.approx(25 / 49, abs=1e-3)  # only the rising half is right
    assert not c["overall_right"]  # no overall sentence, two segment lines


def test_a_text_without_segment_lines_has_zero_trend_accuracy():
    c = description_check("The sensor readings are interesting.", UP_DOWN, 50.0)
    assert c["segments_in_text"] == 0 and c["trend_accuracy"] == 0.0 and not c["overall_right"]
