"""``trend_word_weight`` and ``end_time_weight`` (issue 33, "content a larger share of the loss"): the Stage-1 loss
weighs the segment lines' trend words (and end times) more, and weight 1 is exactly the paper's plain answer loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from _model_helpers import build_tiny

from sensorllm.data import collate
from sensorllm.model.prompts import IGNORE_INDEX
from sensorllm.text import answer_weight_spans, end_time_spans, trend_word_spans
from sensorllm.train.config import ConfigError, Stage1Config, load_config

ANSWER = ("0.0s to 0.1s: descending\n0.1-0.22 seconds: steady\nNumber of descending segments: 1\n"
          "Number of steady segments: 1\n\nThe data is descending: overall, a descending trend.")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_tiny(labels=None)


def example(model, n=12, weight=3.0, answer=ANSWER):
    return model.prompts.stage1_window("x_acc", np.sin(np.arange(n) / 2.0), 50.0, "Trends?", answer,
                                       weighted_spans=[(a, b, weight) for a, b in trend_word_spans(answer)])


def test_spans_are_the_segment_lines_trend_words():
    assert [ANSWER[a:b] for a, b in trend_word_spans(ANSWER)] == ["descending", "steady"]
    assert trend_word_spans("No segment line.\n\n0.0s to 0.1s: rising") == []  # not in the summary


def test_the_weighted_tokens_spell_the_trend_words(model):
    ex = example(model)
    w = ex.label_weights
    assert len(w) == len(ex.labels) == len(ex.input_ids)
    assert all(x == 0.0 for x, y in zip(w, ex.labels) if y == IGNORE_INDEX)
    assert all(x == 1.0 for x, y in zip(w, ex.labels) if y != IGNORE_INDEX and x != 3.0)
    heavy = "".join(model.prompts.tokenizer.decode([t]) for t, x in zip(ex.input_ids, w) if x == 3.0)
    assert heavy == "descendingsteady"  # the byte-level test tokenizer: one token per character
    assert example(model, weight=1.0).label_weights is None  # the paper's loss: no weights at all


@pytest.mark.parametrize("side", ["right", "left"])
def test_collate_pads_the_weights_with_the_labels(model, side):
    exs = [example(model, n=8), example(model, n=20)]
    batch = collate(model.prompts, exs, padding_side=side)
    assert batch.label_weights.shape == batch.labels.shape
    assert torch.equal(batch.label_weights == 0, batch.labels == IGNORE_INDEX)
    assert int((batch.label_weights == 3.0).sum()) == sum(e.label_weights.count(3.0) for e in exs)


def test_weight_one_is_the_plain_loss_and_more_weighs_the_trend_words(model):
    model.eval()
    ex3 = example(model)
    plain = dataclasses.replace(ex3, label_weights=None)
    ones = dataclasses.replace(ex3, label_weights=[float(y != IGNORE_INDEX) for y in ex3.labels])
    with torch.no_grad():
        base = model.forward_stage1(collate(model.prompts, [plain])).loss
        same = model.forward_stage1(collate(model.prompts, [ones])).loss
        weighted = model.forward_stage1(collate(model.prompts, [ex3])).loss
        words_only = dataclasses.replace(plain, labels=[y if w == 3.0 else IGNORE_INDEX
                                                        for y, w in zip(ex3.labels, ex3.label_weights)])
        words = model.forward_stage1(collate(model.prompts, [words_only])).loss
    n_all = sum(y != IGNORE_INDEX for y in ex3.labels)
    n_words = ex3.label_weights.count(3.0)
    torch.testing.assert_close(same, base)
    # sum over all tokens + 2 × the trend words' sum, over the number of answer tokens
    torch.testing.assert_close(weighted, base + 2.0 * words * n_words / n_all)


def test_end_time_spans_are_where_each_segment_ends():
    assert [ANSWER[a:b] for a, b in end_time_spans(ANSWER)] == ["0.1", "0.22"]
    assert end_time_spans("The data rises.\n\n0.0s to 0.1s: rising") == []


def test_both_weights_mark_their_own_tokens(model):
    spans = answer_weight_spans(ANSWER, trend_word_weight=3.0, end_time_weight=5.0)
    assert sorted((ANSWER[a:b], w) for a, b, w in spans) == [("0.1", 5.0), ("0.22", 5.0), ("descending", 3.0),
                                                               ("steady", 3.0)]
    assert answer_weight_spans(ANSWER) == []  # the paper's loss
    ex = model.prompts.stage1_window("x_acc", np.sin(np.arange(12) / 2.0), 50.0, "Trends?", ANSWER,
                                     weighted_spans=spans)
    tok = model.prompts.tokenizer
    heavy = {w: "".join(tok.decode([t]) for t, x in zip(ex.input_ids, ex.label_weights) if x == w) for w in (3.0, 5.0)}
    assert heavy == {3.0: "descendingsteady", 5.0: "0.10.22"}


def test_the_setting_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="trend_word_weight"):
        Stage1Config(trend_word_weight=0.0)
    with pytest.raises(ConfigError, match="end_time_weight"):
        Stage1Config(end_time_weight=-1.0)
    cfg = tmp_path / "s1.yaml"
    cfg.write_text("trend_word_weight: 4\n")
    assert load_config(Stage1Config, cfg, []).trend_word_weight == 4.0
