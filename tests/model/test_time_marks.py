"""Time marks inside a Stage-1 sensor run (``time_marks``): the layout, the splice that skips the marks, the
errors, and the setting's round trip."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch
from _model_helpers import build_tiny, make_window

from sensorllm.data import collate
from sensorllm.model import (EncoderConfig, PromptError, SensorLLMConfig, SpliceError, build_encoder,
                             channel_spans)
from sensorllm.train.config import Stage1Config, load_config

RUN = re.compile(r"<x_acc_start>(.*?)<x_acc_end>", re.S)


@pytest.fixture(scope="module")
def chronos():
    return build_tiny(shared_encoder=build_encoder(EncoderConfig(size="tiny", seed=0)), labels=None)


@pytest.fixture(scope="module")
def marked(chronos):
    return build_tiny(shared_encoder=chronos.encoder, labels=None, time_marks=5)


def _run(model, n: int, rate: float = 50.0) -> str:
    text = model.prompts.sensor_block({"x_acc": n}, rate)
    return RUN.search(text)[1]


def test_marks_name_the_time_of_the_token_after_them(marked):
    """Chronos-T5: one token per sample + EOS. 12 samples → 13 tokens, marks before tokens 0, 5, 10; 10 samples →
    11 tokens, no mark before token 10 (the EOS, no sample), so no mark is later than the window's last sample."""
    ts = marked.layout.ts_token
    assert _run(marked, 12) == f"0.0s{ts * 5}0.1s{ts * 5}0.2s{ts * 3}"
    assert _run(marked, 10) == f"0.0s{ts * 5}0.1s{ts * 6}"
    assert _run(marked, 3, rate=100.0) == f"0.0s{ts * 4}"
    for n in range(1, 60):
        run = _run(marked, n)
        assert run.count(ts) == marked.prompts.tokens_per_series(n)
        times = [float(t) for t in re.findall(r"([\d.]+)s", run.replace(ts, " "))]
        assert times == [round(j / 50.0, 2) for j in range(0, n, 5)]


def test_marks_follow_patches_and_pooling(chronos):
    """A token that covers 4 samples (patch 2 × pool 2) advances 4 samples' time."""
    prompts = dataclasses.replace(chronos.prompts, time_marks=2, samples_per_token=4)
    ts = prompts.layout.ts_token
    text = dataclasses.replace(prompts, tokens_per_series=lambda n: -(-n // 4)).sensor_block({"x_acc": 20}, 50.0)
    assert RUN.search(text)[1] == f"0.0s{ts * 2}0.16s{ts * 2}0.32s{ts}"


def test_the_sensor_embeddings_are_the_same_with_and_without_marks(chronos, marked):
    """The marks add text tokens; every placeholder still gets its own sensor embedding, in order, and the
    gradient reaches the projector through them."""
    x = make_window(3, 23)["x_acc"]
    embeds, lengths = [], []
    for model in (chronos, marked):
        ex = model.prompts.stage1_window("x_acc", x, 50.0, "What happens?", "0.0s - 0.44s: rising")
        batch = collate(model.prompts, [ex])
        e = model.build_inputs_embeds(batch)
        at = batch.input_ids[0] == model.layout.ts_id
        embeds.append(e[0, at])
        lengths.append(len(ex.input_ids))
        assert int(at.sum()) == model.prompts.tokens_per_series(23)
        if model is marked:
            assert "0.2s" in model.tokenizer.decode(ex.input_ids)
            model.zero_grad()
            e[0, at].sum().backward()
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.projector.parameters())
            model.zero_grad()
    torch.testing.assert_close(embeds[0], embeds[1])
    assert lengths[1] > lengths[0]  # the marks are there


def test_a_marked_example_trains_and_generates(marked):
    x = make_window(5, 30)["x_acc"]
    ex = marked.prompts.stage1_window("x_acc", x, 50.0, "What happens?", "0.0s - 0.58s: falling")
    batch = collate(marked.prompts, [ex])
    with torch.no_grad():
        loss = marked.forward_stage1(batch).loss
    assert torch.isfinite(loss)
    prompt = collate(marked.prompts, [marked.prompts.stage1_window("x_acc", x, 50.0, "What happens?", None)],
                     padding_side="left")
    out = marked.generate(prompt, max_new_tokens=4, do_sample=False)
    assert len(out) == 1


def test_channel_spans_skip_marks_only_when_told(chronos):
    lay = chronos.layout
    xs, xe = lay.channels["x_acc"]
    ts = lay.ts_id
    ids = [xs, 7, ts, ts, 8, 9, ts, xe]
    assert channel_spans(ids, lay, time_marks=True) == {"x_acc": (2, 3, 6)}
    with pytest.raises(SpliceError, match="inside the run of channel 'x_acc'"):
        channel_spans(ids, lay)
    ys, _ = lay.channels["y_acc"]
    with pytest.raises(SpliceError, match="starts at 2 inside the run of 'x_acc'"):
        channel_spans([xs, 7, ys, ts, xe], lay, time_marks=True)  # a mark never hides a start token


def test_errors_name_the_setting(chronos, marked):
    with pytest.raises(ValueError, match="time_marks=-1"):
        dataclasses.replace(marked.config, time_marks=-1)
    with pytest.raises(ValueError, match="time_marks need channel_markers"):
        dataclasses.replace(marked.config, channel_markers=False)
    with pytest.raises(PromptError, match="time marks are a Stage-1 layout"):
        marked.prompts.stage2(make_window(0, 16))
    with pytest.raises(PromptError, match="time marks need the sampling rate"):
        marked.prompts.stage1({"x_acc": np.arange(8.0)}, "q", None)


def test_the_setting_round_trips(marked):
    assert SensorLLMConfig.from_json(marked.config.to_json()).time_marks == 5
    old = {k: v for k, v in marked.config.to_json().items() if k != "time_marks"}
    assert SensorLLMConfig.from_json(old).time_marks == 0  # checkpoints before the setting had none
    cfg = load_config(Stage1Config, None, ["time_marks=5"])
    assert cfg.model.time_marks == 5
