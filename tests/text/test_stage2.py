"""Stage-2 texts: statistics with units, correlation wording, constant channels, assembly, seeds."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sensorllm.datasets.spec import ChannelSpec
from sensorllm.text import templates as T
from sensorllm.text.numbers import words_to_number
from sensorllm.text.stage1 import record_rng
from sensorllm.text.stage2 import (
    PREPROCESS_TYPES,
    assemble_text,
    correlation_strength,
    correlation_text,
    stage2_question,
    stage2_text,
    statistics_text,
)

CH = [
    ChannelSpec("x_acc", "x-axis accelerometer", "acc", "x", "waist", "g"),
    ChannelSpec("y_acc", "y-axis accelerometer", "acc", "y", "waist", "g"),
    ChannelSpec("x_gyro", "x-axis gyroscope", "gyro", "x", "waist", "rad/s"),
]


def test_statistics_population_std_and_units():
    w = np.array([[1.0, 2.0, 0.5], [3.0, 2.0, -0.5]])
    text = statistics_text(w, CH)
    assert text.split("\n") == [
        T.STATISTICS_HEADER,
        "x-axis accelerometer: Mean=2 g, StdDev=1 g",
        "y-axis accelerometer: Mean=2 g, StdDev=0 g",
        "x-axis gyroscope: Mean=0 rad/s, StdDev=0.5 rad/s",
    ]
    assert "Mean=0.33333333 g" in statistics_text(np.array([[0.0], [0.0], [1.0]]), CH[:1])


@pytest.mark.parametrize(
    "r, words",
    [(1.0, "strongly positively"), (0.7, "strongly positively"), (0.69, "moderately positively"),
     (0.3, "moderately positively"), (0.29, "weakly positively"), (0.1, "weakly positively"),
     (0.09, "not significantly"), (-0.05, "not significantly"), (-0.5, "moderately negatively"),
     (-0.95, "strongly negatively"), (-0.1, "weakly negatively"), (float("nan"), "not significantly")],
)
def test_correlation_strength(r, words):
    assert correlation_strength(r) == f"{words} correlated"


def test_correlation_text_pairs_and_constant():
    t = np.arange(20.0)
    w = np.stack([t, -2 * t + 1, np.full(20, 9.81)], axis=1)
    lines = correlation_text(w, CH).split("\n")
    assert lines[0] == T.CORRELATION_HEADER and len(lines) == 1 + 3
    assert lines[1] == "X-axis accelerometer and y-axis accelerometer are strongly negatively correlated (r=-1.00)."
    assert "not significantly correlated (x-axis gyroscope is constant)" in lines[2]
    assert "not significantly correlated (x-axis gyroscope is constant)" in lines[3]
    both = correlation_text(np.ones((5, 2)), CH[:2]).split("\n")
    assert "(both are constant)" in both[1]
    # many channels: one line per unordered pair
    chans = [f"ch{i}" for i in range(6)]
    assert len(correlation_text(np.random.default_rng(0).normal(size=(50, 6)), chans).split("\n")) == 1 + 15


def test_question_phrasings_mention_channel_count():
    assert len(set(T.STAGE2_QUESTIONS)) == len(T.STAGE2_QUESTIONS) >= 15
    rng = np.random.default_rng(0)
    for _ in range(200):
        q = stage2_question(15, rng)
        m = re.search(r"\b(15|fifteen)\b", q)
        assert m and "{" not in q
    assert "1 channel" in stage2_question(1, np.random.default_rng(1), numbers="digits") or \
        "1-channel" in stage2_question(1, np.random.default_rng(1), numbers="digits")
    q = stage2_question(6, np.random.default_rng(2), numbers="words")
    assert "six" in q


def test_question_calls_the_data_normalized_only_when_the_model_sees_it_normalized():
    """The paper's nouns include "normalized ... data" (its tokeniser z-normalises); with a scaling that keeps the
    offset (Chronos mean scaling) the same draws give the same question without that word."""
    seen_plain = []
    for seed in range(80):
        a = stage2_question(6, np.random.default_rng(seed))
        b = stage2_question(6, np.random.default_rng(seed), normalized=False)
        assert "normaliz" not in b and b == a.replace("normalized ", "")
        seen_plain.append(a == b)
    assert 0 < sum(seen_plain) < len(seen_plain)  # both kinds of noun were drawn
    w = np.random.default_rng(3).normal(size=(64, 3))
    full = [stage2_text(w, CH, 50.0, np.random.default_rng(s), "smry+Q", normalized=False)["text"] for s in range(20)]
    assert not any("normaliz" in t for t in full)


def test_window_text_follows_the_encoders_scaling():
    from sensorllm.model import EncoderConfig, TokenizerConfig, build_encoder

    assert build_encoder(EncoderConfig(size="tiny", seed=0)).normalizes_series
    mean_scale = EncoderConfig(size="tiny", seed=0, tokenizer=TokenizerConfig(kind="mean_scale"))
    assert not build_encoder(mean_scale).normalizes_series


def test_preprocess_assembly():
    pieces = {"Q": "QQ", "smry": "SS", "stats": "ss", "trend_text": "TT", "corr_text": "CC"}
    assert assemble_text(pieces, "none") == ""
    assert assemble_text(pieces, "smry") == "SS"
    assert assemble_text(pieces, "smry+Q") == "SS\nQQ"
    assert assemble_text(pieces, "trend") == "TT"
    assert assemble_text(pieces, "corr") == "CC"
    assert assemble_text(pieces, "smry+trend+corr+Q") == "SS\nTT\nCC\nQQ"
    assert assemble_text(pieces, "stats+Q") == "ss\nQQ"
    assert len(PREPROCESS_TYPES) == 13
    with pytest.raises(ValueError, match="preprocess_type"):
        assemble_text(pieces, "smry+meta")


def test_stage2_text_full():
    rng = np.random.default_rng(0)
    w = np.round(rng.normal(size=(64, 3)), 2)
    w[:, 2] = 0.25  # constant channel
    out = stage2_text(w, CH, 50, record_rng(3, 2, "train", 7), "smry+trend+corr+Q")
    assert set(out) == {"Q", "smry", "stats", "trend_text", "corr_text", "text"}
    assert out["text"] == "\n".join([out["smry"], out["trend_text"], out["corr_text"], out["Q"]])
    trend_lines = out["trend_text"].split("\n")
    assert trend_lines[0] == T.TREND_HEADER and len(trend_lines) == 4
    assert trend_lines[3].startswith("x-axis gyroscope: ")
    assert re.search(r"\bno (trend changes|changes in trend|trend shifts|shifts between trends)", trend_lines[3])
    assert "Mean=0.25 rad/s, StdDev=0 rad/s" in out["smry"]
    assert not re.search(r"\b[Aa] (?:[aeio]|upward|un)", out["text"])
    again = stage2_text(w, CH, 50, record_rng(3, 2, "train", 7), "smry")
    assert again["Q"] == out["Q"] and again["trend_text"] == out["trend_text"] and again["text"] == out["smry"]
    other = stage2_text(w, CH, 50, record_rng(4, 2, "train", 7), "smry")
    assert (other["Q"], other["trend_text"]) != (out["Q"], out["trend_text"])


def test_stage2_edge_cases():
    one = stage2_text(np.array([[1.0, 2.0, 3.0]]), CH, 50, np.random.default_rng(0), "smry+trend+corr+Q")
    assert "both are constant" in one["corr_text"]
    with pytest.raises(ValueError, match="y_acc"):
        stage2_text(np.array([[1.0, np.nan, 3.0]]), CH, 50, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty"):
        stage2_text(np.zeros((0, 3)), CH, 50, np.random.default_rng(0))
    with pytest.raises(ValueError, match="channels"):
        stage2_text(np.zeros((4, 2)), CH, 50, np.random.default_rng(0))
    with pytest.raises(ValueError, match="preprocess_type"):
        stage2_text(np.zeros((4, 3)), CH, 50, np.random.default_rng(0), "smry+meta")


def test_numbers_in_trend_text():
    w = np.tile(np.array([[0.0], [1.0]]), (10, 1))  # zig-zag: 19 segments
    out = stage2_text(w, CH[:1], 50, np.random.default_rng(0), numbers="words")
    m = re.search(r"\b([a-z-]+(?: [a-z-]+)*) (trend changes|changes in trend|trend shifts|shifts between trends)",
                  out["trend_text"])
    assert m and words_to_number(m.group(1).split(" ")[-1]) == 18


def test_statistics_significant_digits():
    from sensorllm.text.stage2 import statistics_text

    w = np.array([[0.73417971, 0.0049251], [0.73417971, 0.0049251], [0.7, 0.0]])
    full = statistics_text(w, ["a", "b"])
    short = statistics_text(w, ["a", "b"], digits=3)
    assert "Mean=0.72278647" in full
    assert "a: Mean=0.723, StdDev=0.0161" in short
    assert "Mean=0.00328" in short and "StdDev=0.00232" in short
    assert len(short) < len(full)
    assert statistics_text(np.zeros((3, 1)), ["z"], digits=3).count("=0") == 2
