"""Prompt layouts, answer-only label masking, single BOS, and clear input errors."""

from __future__ import annotations

import numpy as np
import pytest
from _model_helpers import CHANNELS, build_tiny, make_window

from sensorllm.data import collate
from sensorllm.model import (
    IGNORE_INDEX,
    AllMissingError,
    EncoderConfig,
    LLMConfig,
    PromptError,
    SequenceTooLongError,
    TokenizerConfig,
    default_system_prompt,
)


@pytest.fixture(scope="module")
def model():
    from sensorllm.model import build_encoder

    return build_tiny(shared_encoder=build_encoder(EncoderConfig(size="tiny", seed=0)))


def _decode_labels(model, ex):
    return model.tokenizer.decode([t for t in ex.labels if t != IGNORE_INDEX], skip_special_tokens=False)


def test_stage1_labels_cover_exactly_the_answer(model):
    answer = "The x-axis rises from -1.2 to 3.4 m/s², then stays flat (two segments)."
    ex = model.prompts.stage1(make_window(0), "What happens?", answer, system=default_system_prompt(16, 50))
    assert len(ex.labels) == len(ex.input_ids)
    decoded = _decode_labels(model, ex)
    assert decoded == answer + "<|im_end|>\n"  # the answer plus the template's end of turn, nothing else
    first = next(i for i, t in enumerate(ex.labels) if t != IGNORE_INDEX)
    assert all(t == IGNORE_INDEX for t in ex.labels[:first])
    assert ex.labels[first:] == ex.input_ids[first:]
    text = model.tokenizer.decode(ex.input_ids)
    assert text.startswith("<|im_start|>system\nA dialogue")
    assert "(16 points, 50 Hz sampling rate, from 0.0s to 0.3s)" in text  # the answers' span and format
    assert text.count("<ts>") == 3 * 17


def test_stage1_generation_prompt_has_no_labels(model):
    ex = model.prompts.stage1(make_window(0), "What happens?", None)
    assert all(t == IGNORE_INDEX for t in ex.labels)
    assert model.tokenizer.decode(ex.input_ids).endswith("<|im_start|>assistant\n")


def test_single_bos_with_a_llama3_style_template(tmp_path):
    """The template writes BOS and the tokenizer adds BOS too: the sequence must still have one (bug B6)."""
    m = build_tiny(llm=LLMConfig(name="tiny-random-llama3-style"), tied=False)
    bos = m.tokenizer.bos_token_id
    ex = m.prompts.stage1(make_window(1), "Q?", "An answer.", system="S")
    assert ex.input_ids[0] == bos and ex.input_ids.count(bos) == 1
    assert _decode_labels(m, ex) == "An answer.<|eot_id|>"
    ex2 = m.prompts.stage2(make_window(1), text="stats")
    assert ex2.input_ids[0] == bos and ex2.input_ids.count(bos) == 1


def test_stage1_without_chat_template(model):
    from sensorllm.model import PromptBuilder

    tok = model.tokenizer
    saved = tok.chat_template
    tok.chat_template = None
    try:
        pb = PromptBuilder(tok, model.layout, model.num_sensor_tokens, context_length=512)
        ex = pb.stage1(make_window(0), "Q?", "Plain answer.", system="S")
    finally:
        tok.chat_template = saved
    assert _decode_labels(model, ex) == "Plain answer." + tok.eos_token


def test_stage2_layout(model):
    ex = model.prompts.stage2(make_window(0), text="mean: 0.1", label=2)
    text = model.tokenizer.decode(ex.input_ids)
    expected = "".join(f"<{c}_start>" + "<ts>" * 17 + f"<{c}_end>\n" for c in CHANNELS) + "mean: 0.1"
    assert text == expected and ex.label == 2


def test_batching_pads_right_and_left(model):
    exs = [
        model.prompts.stage2(make_window(0), text="a"),
        model.prompts.stage2(make_window(1, 8), text="longer text"),
    ]
    b = collate(model.prompts, exs)
    assert b.input_ids.shape[0] == 2 and b.attention_mask.sum(1).tolist() == [len(e.input_ids) for e in exs]
    assert (
        b.input_ids[1, -1] == model.layout.pad_id and b.class_labels is None
    )  # the 8-sample window is shorter
    bl = collate(model.prompts, exs, padding_side="left")
    assert bl.attention_mask[:, -1].tolist() == [1, 1]
    assert b.series_channel == list(CHANNELS) * 2 and b.series_example == [0, 0, 0, 1, 1, 1]


def test_clear_errors_for_bad_inputs(model):
    w = make_window(0)
    with pytest.raises(AllMissingError, match="channel 'y_acc'"):
        model.prompts.stage2({**w, "y_acc": np.full(16, np.nan)})
    with pytest.raises(PromptError, match="unknown channel 'chest_x_acc'"):
        model.prompts.stage2({**w, "chest_x_acc": np.zeros(16)})
    with pytest.raises(SequenceTooLongError, match="600 samples exceed the encoder context of 512"):
        model.prompts.stage2({"x_acc": np.zeros(600)})
    with pytest.raises(PromptError, match="1-D"):
        model.prompts.stage2({"x_acc": np.zeros((4, 2))})


def test_overlong_token_sequence_and_truncation_option():
    from _model_helpers import tiny_config

    from sensorllm.model import build_sensor_llm

    cfg = tiny_config(
        max_length=40, encoder=EncoderConfig(size="tiny", tokenizer=TokenizerConfig(context_length=8))
    )
    m = build_sensor_llm(cfg, encoder=None)
    ex = m.prompts.stage2({"x_acc": np.arange(8.0), "y_acc": np.arange(8.0)}, text="ok")
    with pytest.raises(SequenceTooLongError, match="exceed max_length 40"):
        collate(m.prompts, [m.prompts.stage2(make_window(0, 8), text="a long text " * 3)])
    collate(m.prompts, [ex])  # 2 × (8+1+2) + 2 tokens fit
    with pytest.raises(SequenceTooLongError, match="encoder context of 8"):
        m.prompts.stage2({"x_acc": np.arange(20.0)})
    cfg_t = tiny_config(
        allow_truncation=True, encoder=EncoderConfig(size="tiny", tokenizer=TokenizerConfig(context_length=8))
    )
    mt = build_sensor_llm(cfg_t, encoder=None)
    ex_t = mt.prompts.stage2({"x_acc": np.arange(20.0)}, text="t")
    assert mt.tokenizer.decode(ex_t.input_ids).count("<ts>") == 9
    out = mt.forward_stage2(collate(mt.prompts, [ex_t]))
    assert out.logits.shape == (1, 3)


def test_prompt_builder_pickles_without_the_model(model):
    """Data-loader workers may receive the builder: it must not drag the model along."""
    import pickle

    blob = pickle.dumps(model.prompts)
    assert len(blob) < 2_000_000
    pb = pickle.loads(blob)
    ex = pb.stage2(make_window(0), text="t", label=1)
    assert ex.input_ids == model.prompts.stage2(make_window(0), text="t", label=1).input_ids
