"""The Stage-1 system prompt states the time span the answers use (issue 33, "The window's length"), as the
``system_prompt_span`` setting: ``answer_times`` for new models, ``duration`` (``n / rate``) for checkpoints
saved before the setting, which were trained with it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from _model_helpers import build_tiny, make_window

from sensorllm.model import (EncoderConfig, SensorLLMConfig, build_encoder, default_system_prompt,
                             load_checkpoint, save_checkpoint)
from sensorllm.text import format_time, parse_trend_answer, record_rng, stage1_qa
from sensorllm.train.config import ConfigError, Stage1Config, Stage2Config, load_config

ROOT = Path(__file__).resolve().parents[2]
SPAN_RE = re.compile(r"\((\d+) points, ([\d.]+) Hz sampling rate, from (\S+)s to (\S+)s\)")
# (samples, rate): grids whose last time rounds in different ways (1/3 s, 1/30 s, 0.01 s steps)
CASES = [(1, 50.0), (2, 50.0), (5, 50.0), (6, 50.0), (48, 50.0), (128, 50.0), (200, 100.0), (7, 3.0),
         (31, 30.0), (17, 20.0)]


@pytest.fixture(scope="module")
def model():
    return build_tiny(shared_encoder=build_encoder(EncoderConfig(size="tiny", seed=0)), labels=None)


def test_the_example_of_the_issue():
    """5 samples at 50 Hz: the answers end at 0.08 s; the prompt said 0.10 s, it now says 0.08s."""
    x = np.array([0.0, 1.0, 0.5, 0.7, 0.2])
    qa = stage1_qa(x, "x-axis accelerometer", 50.0, record_rng(0, 1, "t", 0, 0))
    assert parse_trend_answer(qa["answer"]).segments[-1][1] == 0.08
    assert default_system_prompt(5, 50.0) == (
        "A dialogue between a curious researcher and an AI assistant. The AI analyzes a sensor time-series "
        "(5 points, 50 Hz sampling rate, from 0.0s to 0.08s) to answer specific questions.")
    assert default_system_prompt(5, 50.0, "duration") == (
        "A dialogue between a curious researcher and an AI assistant. The AI analyzes a sensor time-series "
        "(5 points, 50 Hz sampling rate, 0.10 s) to answer specific questions.")
    with pytest.raises(ValueError, match="span='seconds'; valid: answer_times, duration"):
        default_system_prompt(5, 50.0, "seconds")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["exact", "tolerant"])
@pytest.mark.parametrize("n,rate", CASES)
def test_the_stated_end_is_the_end_of_the_answers_last_segment(n, rate, mode):
    rng = np.random.default_rng(n)
    for k in range(3):
        # k = 0: rounded values, with steady pairs too
        x = np.cumsum(rng.normal(size=n)) if k else np.round(rng.normal(size=n), 1)
        qa = stage1_qa(x, "x-axis accelerometer", rate, record_rng(k, 1, "t", n, 0), mode=mode)
        segs = parse_trend_answer(qa["answer"]).segments
        assert segs, qa["answer"]
        m = SPAN_RE.search(default_system_prompt(n, rate))
        assert m, default_system_prompt(n, rate)
        assert (int(m[1]), float(m[2])) == (n, rate)
        assert m[3] == str(segs[0][0]) == format_time(0, rate)  # the same strings the answer prints
        assert m[4] == str(segs[-1][1]) == format_time(n - 1, rate)
        assert f"{m[4]}s" in qa["summary"] or f"{m[4]} s" in qa["summary"]  # the summary's span ends there


def test_the_model_prompts_with_its_setting(model):
    x = make_window(0, 5)["x_acc"]
    assert model.config.system_prompt_span == "answer_times" == model.prompts.system_prompt_span
    ex = model.prompts.stage1_window("x_acc", x, 50.0, "What happens?", None)
    assert "(5 points, 50 Hz sampling rate, from 0.0s to 0.08s)" in model.tokenizer.decode(ex.input_ids)
    old = dataclasses.replace(model.prompts, system_prompt_span="duration")
    ex = old.stage1_window("x_acc", x, 50.0, "What happens?", None)
    assert "(5 points, 50 Hz sampling rate, 0.10 s)" in model.tokenizer.decode(ex.input_ids)


def test_stage2_sequences_do_not_depend_on_it(model):
    """Stage 2 has no system prompt: its token ids are the same with either setting."""
    old = dataclasses.replace(model.prompts, system_prompt_span="duration")
    for layout in ("paper", "text_first"):
        a = dataclasses.replace(model.prompts, stage2_layout=layout)
        b = dataclasses.replace(old, stage2_layout=layout)
        lengths = {"x_acc": 16, "y_acc": 16, "z_acc": 16}
        assert a.stage2_ids(lengths, "mean 0.1") == b.stage2_ids(lengths, "mean 0.1")


def test_checkpoints_keep_the_prompt_they_were_trained_with(model, tmp_path):
    """A new checkpoint saves its setting; one saved before the setting existed (no key in config.json) loads
    with the n / rate prompt it was trained with."""
    save_checkpoint(model, tmp_path / "new")
    meta = json.loads((tmp_path / "new" / "config.json").read_text())
    assert meta["config"]["system_prompt_span"] == "answer_times"
    x = make_window(1, 5)["y_acc"]
    loaded = load_checkpoint(tmp_path / "new")
    ex = loaded.prompts.stage1_window("y_acc", x, 50.0, "Q?", None)
    assert "from 0.0s to 0.08s" in loaded.tokenizer.decode(ex.input_ids)

    del meta["config"]["system_prompt_span"]  # what every checkpoint written before the setting holds
    (tmp_path / "new" / "config.json").write_text(json.dumps(meta, indent=2))
    old = load_checkpoint(tmp_path / "new")
    assert old.config.system_prompt_span == "duration" == old.prompts.system_prompt_span
    ex = old.prompts.stage1_window("y_acc", x, 50.0, "Q?", None)
    assert "(5 points, 50 Hz sampling rate, 0.10 s)" in old.tokenizer.decode(ex.input_ids)

    save_checkpoint(old, tmp_path / "resaved")  # saved again: the setting is written down
    saved = json.loads((tmp_path / "resaved" / "config.json").read_text())
    assert saved["config"]["system_prompt_span"] == "duration"


def test_the_pinned_stage2_checkpoints_load_with_the_old_setting():
    """The checkpoints of tests/test_pinned_probabilities.py predate the setting (Stage 2 never reads it)."""
    for kind in ("chronos", "conv"):
        meta = json.loads((ROOT / "tests" / "data" / "pinned_stage2" / kind / "config.json").read_text())
        assert "system_prompt_span" not in meta["config"]
        assert SensorLLMConfig.from_json(meta["config"]).system_prompt_span == "duration"


def test_the_config_key():
    assert Stage1Config().model.system_prompt_span == "answer_times"
    assert Stage2Config().model.system_prompt_span == "answer_times"
    for path in (ROOT / "configs" / "recommended" / "uci-har" / "stage1-describe.yaml",
                 ROOT / "src" / "sensorllm" / "configs" / "recommended" / "stage1-describe.yaml"):
        cfg = load_config(Stage1Config, path)
        assert cfg.model.system_prompt_span == "answer_times"
        assert cfg.model.for_data(("x_acc",)).system_prompt_span == "answer_times"
    cfg = load_config(Stage1Config, None, ["system_prompt_span=duration"])
    assert cfg.model.for_data(("x_acc",)).system_prompt_span == "duration"
    with pytest.raises(ConfigError, match="system_prompt_span"):
        load_config(Stage1Config, None, ["system_prompt_span=seconds"])
