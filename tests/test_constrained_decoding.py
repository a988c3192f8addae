"""Constrained Stage-1 decoding (issue 33, "Structured output"): the segment-block grammar, the logits processor
on a tiny random model, ``describe_items(constrained=True)`` and ``sensorllm describe --constrained``."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch

from sensorllm.data import Stage1Item, collate
from sensorllm.text import format_time, parse_trend_answer
from sensorllm.text.grammar import SegmentGrammar
from sensorllm.text.templates import STAGE1_SYNONYMS

sys.path.insert(0, str(Path(__file__).parent / "model"))
from _model_helpers import build_tiny, make_window  # noqa: E402

STAGE1_WORDS = {w for syn in STAGE1_SYNONYMS for w in syn}
CASES = [(1, 50.0), (4, 50.0), (6, 20.0), (5, 3.0)]  # (window length L, rate): times on very different grids


def check_block(text: str, length: int, rate: float) -> None:
    """``text`` starts with segment lines that tile [0, (L-1)/rate] on the grid, in the answers' time format,
    with Stage-1 trend words, neighbouring trends different, and count lines that agree with them."""
    p = parse_trend_answer(text)
    assert p.segments, text
    grid = {format_time(i, rate): i for i in range(length)}
    lines = [ln for ln in text.splitlines() if ln.strip()][: len(p.segments)]
    prev_end, prev_code = 0, None
    for (a, b, code), line in zip(p.segments, lines):
        assert format_time(prev_end, rate) == str(a)
        assert str(b) in grid and (grid[str(b)] > prev_end or length == 1), line
        assert line.split(":")[-1].strip() in STAGE1_WORDS, line
        assert code != prev_code
        prev_end, prev_code = grid[str(b)], code
    assert prev_end == length - 1  # the block ends at the last sample's time
    codes = [c for _, _, c in p.segments]
    if len(set(codes)) > 1 and p.counts:
        assert p.counts == {c: codes.count(c) for c in set(codes)}


@pytest.mark.parametrize("length,rate", CASES + [(200, 50.0), (30, 128.0)])
def test_every_walk_of_the_grammar_is_a_valid_segment_block(length, rate):
    g = SegmentGrammar(length, rate)
    for seed in range(40):
        rnd = random.Random(seed)
        state, text = g.start(), ""
        while state[0] != "opening":  # up to the summary paragraph
            ch = rnd.choice(sorted(g.allowed(state)))
            state, text = g.step(state, ch), text + ch
        check_block(text + "Summary.", length, rate)
        assert text.endswith("\n\n")  # the count lines (more than one trend) and the blank line are fixed


def test_the_grammar_refuses_what_answers_never_write():
    g = SegmentGrammar(50, 50.0)  # last sample at 0.98 s
    ok = g.feed(g.start(), "0.0s to 0.5s: rising\n0.5s to 0.98s: falling\n")
    assert ok is not None and ok[0] == "counts"
    counts = "Number of falling trends: 1\nNumber of rising trends: 1\n\n"
    assert g.feed(ok, counts + "The data, from 0.1s to 0.5s: rising.") == ("paragraph",)
    for bad in ("Number of rising", "Number of falling trends: 2", counts + "The\n", counts + "0.5s to",
                counts + "From 0.5s", counts + "between 0.5", counts + "From \u0663", counts + "From \u00bd", counts + "- 0.5s"):
        assert g.feed(ok, bad) is None, bad  # counts that disagree; a summary with a newline or a segment line
    assert g.feed(ok, counts + "Fromage") == g.feed(ok, counts + "From the start") == ("paragraph",)
    for bad in ("0.0s to 0.03s",  # 0.03 s is not on the 50 Hz grid
                "0.0s to 1.0s",  # after the last sample
                "0.0s to 0.5s: rising\n0.4s",  # does not start where the previous line ended
                "0.0s to 0.5s: rising\n0.5-",  # another line format
                "0.0s to 0.5s: soaring",  # not a trend word of the answers
                "0.0s to 0.5s: rising\n0.5s to 0.98s: ascending",  # the same trend twice in a row
                "0.0s to 0.5s: rising\n0.5s to 0.98s: descending",  # another synonym set
                "0.1s to"):  # the first line starts at 0.0
        assert g.feed(g.start(), bad) is None, bad
    block = g.feed(g.start(), "0.0s to 0.5s: rising\n0.5s to 0.98s: falling")
    assert g.accepts_end(block) and not g.accepts_end(ok) and not g.accepts_end(g.start())
    free = SegmentGrammar(50, 50.0, counts=False)
    assert free.feed(free.start(), "0.0s to 0.98s: steady") == ("free",)
    assert free.feed(free.start(), "0.0s to 0.98s: steady\n0.98s to 1.2s: rising") == ("free",)


@pytest.fixture(scope="module")
def model():
    return build_tiny(labels=None)


def items_for(cases, seed: int = 0):
    return [Stage1Item(index=k, channel="x_acc", series=make_window(seed + k, length)["x_acc"], question="Describe.",
                       answer="", rate_hz=rate) for k, (length, rate) in enumerate(cases)]


def test_constrained_greedy_descriptions_are_valid_segment_blocks(model):
    from sensorllm.infer.describe import describe_items

    items = items_for(CASES)
    texts = describe_items(model, items, batch_size=4, max_new_tokens=400, constrained=True)
    for it, text in zip(items, texts):
        check_block(text, len(it.series), it.rate_hz)


def test_constrained_sampling_stays_in_the_grammar(model):
    from transformers import LogitsProcessorList

    from sensorllm.infer.constrained import Stage1GrammarProcessor

    cases = [(5, 50.0), (3, 10.0)]
    for seed in range(3):
        items = items_for(cases, seed)
        exs = [model.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, None) for it in items]
        batch = collate(model.prompts, exs, padding_side="left")
        proc = Stage1GrammarProcessor(model.tokenizer, [n for n, _ in cases], [r for _, r in cases],
                                      model.hf_model.generation_config.eos_token_id)
        torch.manual_seed(seed)
        texts = model.generate(batch, max_new_tokens=300, do_sample=True, temperature=2.0,
                               logits_processor=LogitsProcessorList([proc]))
        for (length, rate), text in zip(cases, texts):
            check_block(text, length, rate)


def test_unconstrained_decoding_is_unchanged(model):
    from sensorllm.infer.describe import describe_items

    items = items_for([(6, 50.0), (4, 50.0)])
    exs = [model.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, None) for it in items]
    plain = model.generate(collate(model.prompts, exs, padding_side="left"), max_new_tokens=12)
    assert describe_items(model, items, batch_size=2, max_new_tokens=12) == plain
    assert describe_items(model, items, batch_size=2, max_new_tokens=12, constrained=False) == plain


def test_describe_cli_constrained_flag(model, tmp_path, capsys):
    import pandas as pd

    from sensorllm.cli.main import main
    from sensorllm.model import save_checkpoint

    channels = [{"name": c, "description": f"{c} axis", "sensor": "acc", "axis": c[0], "placement": "waist",
                 "unit": "g"} for c in ("x_acc", "y_acc", "z_acc")]
    save_checkpoint(model, tmp_path / "s1", extra={"stage": "stage1", "rate_hz": 50.0, "trend_mode": "exact",
                                                   "text_seed": 0,
                                                   "dataset": {"channels": channels, "stage1_window": [4, 6]}})
    w = make_window(3, 10)
    pd.DataFrame(w).to_csv(tmp_path / "rec.csv", index=False)
    args = ["describe", "--model", str(tmp_path / "s1"), str(tmp_path / "rec.csv"), "--length", "5",
            "--max-new-tokens", "300", "--device", "cpu"]
    capsys.readouterr()
    assert main(args + ["--constrained", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["constrained"] is True
    check_block(res["description"], 5, 50.0)
    assert res["check"]["segments_in_text"] >= 1 and not res["check"]["names_time_outside_window"]
    assert main(args + ["--constrained"]) == 0
    assert "samples, constrained decoding)" in capsys.readouterr().out
    assert main(args + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["constrained"] is False


def test_stage1_table_constrained_row(model, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import stage1_table

    from sensorllm.model import save_checkpoint

    save_checkpoint(model, tmp_path / "runs" / "tiny" / "stage1-seed0" / "model", extra={"trend_mode": "exact"})
    capsys.readouterr()
    stage1_table.main(["--model-dir-pattern", str(tmp_path / "runs" / "tiny" / "stage1-seed{seed}" / "model"),
                       "--rows", "trained-constrained", "--dry-run", "--records", str(tmp_path / "records"),
                       "--max-new-tokens", "300"])
    out = capsys.readouterr().out
    assert "trained-constrained-tiny seed 0: describe with" in out and "(greedy, constrained, up to 300" in out
    items = items_for([(4, 50.0), (3, 20.0)])
    gen = stage1_table.generate_resumable(lambda: model, "tiny:constrained", items, tmp_path / "p.jsonl", 2, 300,
                                          constrained=True)
    for it, text in zip(items, gen):
        check_block(text, len(it.series), it.rate_hz)
