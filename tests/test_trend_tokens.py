"""Stage 1's warm start of the sensor path (``trend_tokens``): the per-token labels, the word targets, and that
training moves the sensor tokens towards their trend words."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
from sensorllm.train.config import ConfigError, Stage1Config, load_config
from sensorllm.train.trend_tokens import TREND_WORDS, token_trends, train_trend_tokens, word_targets


def test_each_token_gets_the_trend_of_the_segment_its_first_sample_starts():
    x = np.array([0.0, 1, 2, 3, 2, 1, 0])  # up to sample 3, then down: segments [0, 3] and [3, 6]
    assert token_trends(x, 50.0, 8, 1, "exact").tolist() == [2, 2, 2, 0, 0, 0, 0, -1]  # 8th: the EOS token
    assert token_trends(x, 50.0, 4, 2, "exact").tolist() == [2, 2, 0, 0]  # tokens of 2 samples: 0, 2, 4, 6
    assert token_trends(np.array([5.0]), 50.0, 2, 1, "exact").tolist() == [1, -1]  # one sample: steady
    flat = np.array([1.0, 1.0, 1.0, 4.0])
    assert token_trends(flat, 50.0, 4, 1, "exact").tolist() == [1, 1, 2, 2]


@pytest.fixture(scope="module")
def model():
    cfg = SensorLLMConfig(channels=("x_acc", "y_acc"), llm=LLMConfig(name="tiny-random-llama", seed=0),
                          encoder=EncoderConfig(kind="conv", size="tiny", seed=0, trainable=True, patch_size=1),
                          projector=ProjectorConfig(preset="custom", hidden=(64,)))
    m = build_sensor_llm(cfg)
    m.set_trainable(projector=True, head=False, token_rows=True)
    return m


def test_the_targets_are_the_words_input_embeddings(model):
    t = word_targets(model)
    emb = model.hf_model.get_input_embeddings().weight
    ids = model.tokenizer(TREND_WORDS[1], add_special_tokens=False)["input_ids"]
    assert t.shape == (3, emb.shape[1]) and not t.requires_grad
    torch.testing.assert_close(t[2], emb[ids].float().mean(0))


def test_training_moves_the_tokens_to_their_words(model):
    rng = np.random.default_rng(0)
    windows = [np.cumsum(rng.normal(size=(int(n), 2)), axis=0) for n in rng.integers(10, 40, size=64)]
    before = {k: v.clone() for k, v in model.projector.state_dict().items()}
    res = train_trend_tokens(model, windows, windows[:8], 50.0, "exact", steps=40, lr=3e-3, batch_size=8, seed=0,
                             log_every=10)
    assert res.steps == 40 and len(res.curve) == 4 and res.val_accuracy is not None
    assert res.curve[-1]["loss"] < 0.8 * res.curve[0]["loss"], res.curve
    assert any(not torch.equal(before[k], v) for k, v in model.projector.state_dict().items())


def test_the_setting_is_checked():
    assert load_config(Stage1Config, None, ["trend_tokens.steps=200"]).trend_tokens.steps == 200
    assert Stage1Config().trend_tokens.steps == 0  # the paper: no warm start
    with pytest.raises(ConfigError, match="trend_tokens"):
        load_config(Stage1Config, None, ["trend_tokens.steps=-1"])


def test_a_summary_token_is_labelled_with_the_overall_direction():
    x = np.array([0.0, 1, 2, 3, 2, 1.5])  # up to sample 3, then down, ending above the start: overall increase
    assert token_trends(x, 50.0, 7, 1, "exact", summary=True).tolist() == [2, 2, 2, 0, 0, 0, 2]
    y = np.array([0.0, 1, 2, 3, 2, -1])  # ends below the start: overall decrease
    assert token_trends(y, 50.0, 7, 1, "exact", summary=True)[-1] == 0


def test_the_warm_start_teaches_the_summary_token_the_overall_direction():
    cfg = SensorLLMConfig(channels=("x_acc", "y_acc"), llm=LLMConfig(name="tiny-random-llama", seed=0),
                          encoder=EncoderConfig(kind="conv", size="tiny", seed=0, trainable=True, patch_size=1,
                                                summary_token=True),
                          projector=ProjectorConfig(preset="custom", hidden=(64,)))
    m = build_sensor_llm(cfg)
    m.set_trainable(projector=True, head=False, token_rows=True)
    rng = np.random.default_rng(1)
    windows = [np.cumsum(rng.normal(size=(int(n), 2)), axis=0) for n in rng.integers(10, 40, size=96)]
    res = train_trend_tokens(m, windows, windows[:16], 50.0, "exact", steps=60, lr=3e-3, batch_size=8, seed=0,
                             log_every=20)
    assert all("summary_accuracy" in row for row in res.curve)
    assert res.val_summary_accuracy is not None and res.to_json()["val_summary_accuracy"] == res.val_summary_accuracy
    assert res.curve[-1]["loss"] < 0.8 * res.curve[0]["loss"], res.curve
