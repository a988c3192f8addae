"""benchmarks/stage1_reading.py: the trend-word loss counts exactly the trend words of the segment lines, and a
model's own and reversed losses come out per item (tiny random model)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "model"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import stage1_reading as sr  # noqa: E402
from _model_helpers import build_tiny  # noqa: E402

from sensorllm.data import Stage1Item  # noqa: E402
from sensorllm.text import trend_word_spans  # noqa: E402

ANSWER = ("From 0.0s to 0.1s: descending\n0.1-0.22 seconds: steady\nNumber of descending segments: 1\n"
          "Number of steady segments: 1\n\nThe data is descending: overall, a descending trend.")


@pytest.fixture(scope="module")
def model():
    return build_tiny(labels=None)


def kept_text(model, ex, labels) -> str:
    return "".join(model.prompts.tokenizer.decode([t]) for t, y in zip(ex.input_ids, labels) if y != -100)


def test_only_the_segment_lines_trend_words_are_kept(model):
    ex = model.prompts.stage1_window("x_acc", np.linspace(0, 1, 12), 50.0, "What are the trends?", ANSWER,
                                     weighted_spans=[(a, b, sr.MARK) for a, b in trend_word_spans(ANSWER)])
    labels = sr.trend_word_labels(ex)
    assert len(labels) == len(ex.labels)
    assert all(y == -100 for y, orig in zip(labels, ex.labels) if orig == -100)
    assert kept_text(model, ex, labels) == "descendingsteady"  # byte-level: whole words, no count/summary words


def test_an_answer_without_segment_lines_keeps_nothing(model):
    answer = "No lines here.\n\nSummary."
    ex = model.prompts.stage1_window("x_acc", np.linspace(0, 1, 12), 50.0, "Trends?", answer,
                                     weighted_spans=[(a, b, sr.MARK) for a, b in trend_word_spans(answer)])
    assert all(y == -100 for y in sr.trend_word_labels(ex))


def test_answer_loss_gives_both_losses_per_item(model):
    items = [Stage1Item(index=i, channel="x_acc", series=np.sin(np.arange(n) / 3.0), question="Trends?",
                        answer=ANSWER, rate_hz=50.0) for i, n in enumerate((8, 20))]
    whole, words = sr.answer_loss(model, items, reverse=False)
    whole_r, words_r = sr.answer_loss(model, items, reverse=True)
    assert whole.shape == words.shape == whole_r.shape == (2,)
    assert np.isfinite(whole).all() and np.isfinite(words).all()
    assert not np.allclose(words, whole)  # a subset of the answer tokens, not the whole answer
