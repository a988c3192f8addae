"""benchmarks/profile_stage1.py: the token parts of a Stage-1 QA pair add up to the example, and the tables are
written from a record (on a tiny random model; the profile itself is not run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "model"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import profile_stage1 as ps  # noqa: E402
from _model_helpers import build_tiny  # noqa: E402

from sensorllm.data import Stage1Item  # noqa: E402

ANSWER = ("From 0.0s to 0.1s: descending\nFrom 0.1s to 0.22s: ascending\nNumber of descending segments: 1\n"
          "Number of ascending segments: 1\n\nThis time series shows normalized x-axis accelerometer readings. "
          "Taken as a whole, the data follows an ascending trend.")


@pytest.fixture(scope="module")
def model():
    return build_tiny(labels=None)


@pytest.mark.parametrize("n", [1, 12, 50])
def test_the_parts_add_up_to_the_example(model, n):
    it = Stage1Item(index=0, channel="x_acc", series=np.linspace(0, 1, n), question="What are the trends?",
                    answer=ANSWER, rate_hz=50.0)
    ex = model.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, it.answer)
    c = ps.token_parts(model.prompts, it, ex)
    parts = ("system", "sensor", "question", "segments", "summary", "template")
    assert sum(c[k] for k in parts) == c["total"] == len(ex.input_ids)
    assert c["sensor"] == model.prompts.tokens_per_series(n) + 2
    assert c["segments"] > 0 and c["summary"] > 0 and c["question"] > 0
    assert c["segments"] + c["summary"] <= c["trained"] <= c["segments"] + c["summary"] + c["template"]


def test_padding_of_grouped_batches_is_below_random():
    lengths = np.random.default_rng(0).integers(100, 500, 400)
    pad = ps.padding(lengths, 4, 0)
    assert pad["random"]["real"] == pad["grouped"]["real"] == int(lengths.sum())
    assert 0 <= pad["grouped"]["share"] < pad["random"]["share"]


def test_the_doc_tables_come_from_the_record(tmp_path, monkeypatch):
    rec = json.loads(ps.RECORD.read_text())
    doc = tmp_path / "performance.md"
    doc.write_text("before\n<!-- stage1 profile table -->\nold\n<!-- end stage1 profile table -->\nafter\n")
    monkeypatch.setattr(ps, "DOC", doc)
    ps.write_doc(rec)
    text = doc.read_text()
    assert "\nold\n" not in text and text.startswith("before\n") and text.endswith("after\n")
    assert f"**{rec['timing']['all']['ms_per_pair']:.1f}**" in text
    assert f"| system prompt | {rec['tokens']['system']['mean']:.1f} |" in text
