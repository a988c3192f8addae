"""The parser recovers segments, counts and summary facts of every generated answer; it tolerates
hand-written variants; scoring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorllm.text.parse import parse_summary, parse_trend_answer, score_answer
from sensorllm.text.segments import DECREASE, INCREASE, STEADY
from sensorllm.text.stage1 import stage1_text
from sensorllm.text.stage2 import trend_text
from sensorllm.text.trend import segment_trends

RATES = [10.0, 20.0, 25.0, 30.0, 32.0, 50.0, 64.0, 100.0]


def check_recovers(segs, text, rate):
    p = parse_trend_answer(text)
    a, b, t = p.indices(rate)
    assert a.tolist() == segs.start_idx.tolist()
    assert b.tolist() == segs.end_idx.tolist()
    assert t.tolist() == segs.trend.tolist()
    counts = segs.counts()
    assert p.counts == (counts if len(counts) > 1 else {})
    assert p.n_trends == len(counts)
    assert p.n_changes == len(segs) - 1
    assert p.overall == (segs.overall() if len(segs) > 1 else None)
    assert set(p.durations) == set(counts)
    for code, steps in segs.total_steps().items():
        assert p.durations[code] == pytest.approx(round(steps / rate, 2), abs=1e-9)
    sc = score_answer(p, segs)
    assert sc["segments_exact"] and sc["step_accuracy"] == 1.0 and sc["counts_exact"]
    assert sc["n_trends_ok"] and sc["n_changes_ok"] and sc["overall_ok"] in (True, None)
    assert sc["duration_abs_error"] < 0.006


@settings(max_examples=300, deadline=None)
@given(
    x=st.lists(st.integers(-3, 3) | st.floats(-100, 100, allow_nan=False), min_size=1, max_size=120),
    rate=st.sampled_from(RATES),
    seed=st.integers(0, 2**32 - 1),
    numbers=st.sampled_from(["mixed", "digits", "words"]),
    mode=st.sampled_from(["exact", "exact", "tolerant"]),
)
def test_parser_recovers_any_generated_answer(x, rate, seed, numbers, mode):
    segs = segment_trends(np.array(x, dtype=np.float64), rate, mode=mode)
    out = stage1_text(segs, "right-lower-arm z-axis accelerometer", np.random.default_rng(seed), numbers)
    check_recovers(segs, out["answer"] + "\n\n" + out["summary"], rate)


def test_hand_written_variants():
    text = """
    - 0.0 sec to 0.5 sec: Rising
    0.5–1.0 s: a falling trend
    from 1.0s until 1.2s, stable
    * 1.2 - 1.5 seconds: up
    Number of rising segments: three
    falling trends: 1.
    Some unrelated remark.
    """
    p = parse_trend_answer(text)
    assert p.segments == [(0.0, 0.5, INCREASE), (0.5, 1.0, DECREASE), (1.0, 1.2, STEADY), (1.2, 1.5, INCREASE)]
    assert p.counts == {INCREASE: 3, DECREASE: 1}
    assert p.unparsed == ["Some unrelated remark."]


def test_summary_facts():
    p = parse_summary(
        "The data contains Three distinct trends and forty-nine trend shifts. Summarizing, an ascending pattern "
        "persisted for a cumulative period of 0.10 seconds, and the descending parts account for 1.20 seconds. "
        "Overall, the trend is descending."
    )
    assert p.n_trends == 3 and p.n_changes == 49
    assert p.durations == {INCREASE: 0.10, DECREASE: 1.20}
    assert p.overall == DECREASE
    empty = parse_trend_answer("I cannot tell.")
    assert empty.segments == [] and empty.n_trends is None and empty.overall is None


def test_score_partial_answer():
    x = np.array([0, 1, 2, 3, 2, 1, 1, 1, 2.0])
    segs = segment_trends(x, 10)  # inc 0-3, dec 3-5, steady 5-7, inc 7-8
    sc = score_answer("0.0s to 0.3s: increasing\n0.3s to 0.8s: decreasing", segs)
    assert not sc["segments_exact"]
    assert sc["step_accuracy"] == pytest.approx(5 / 8)
    assert sc["parsed_segments"] == 2 and sc["ref_segments"] == 4
    assert sc["n_trends_ok"] is None and sc["duration_abs_error"] is None
    assert score_answer("", segs)["step_accuracy"] == 0.0


def test_stage2_trend_lines_parse_per_channel():
    rng = np.random.default_rng(3)
    w = np.round(rng.normal(size=(30, 3)), 1)
    segs = [segment_trends(w[:, c], 50) for c in range(3)]
    text = trend_text(segs, ["a", "b", "c"], np.random.default_rng(0), numbers="mixed")
    lines = text.split("\n")[1:]
    for s, line in zip(segs, lines):
        p = parse_summary(line)
        assert p.n_changes == len(s) - 1 and p.n_trends == len(s.counts())
        assert set(p.durations) == set(s.counts())
