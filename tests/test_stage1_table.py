"""The Stage-1 table harness (benchmarks/stage1_table.py) on a tiny random model and the packaged demo subset:
rows per seed, the untrained floor, the references that need no LLM, the checkpoint curve, records that resume,
``--doc-only`` and ``--dry-run``; plus the scores it adds (timing error, invented content) and METEOR's WordNet."""

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from sensorllm.cli.main import main as cli
from sensorllm.eval.describe import invented_content, score_descriptions, stage1_eval_items, structure_scores
from sensorllm.text import parse_trend_answer, segment_trends
from sensorllm.text.parse import boundary_error

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "tiny"
DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"
sys.path.insert(0, str(ROOT / "benchmarks"))
import stage1_table  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
DOC = """# doc

<!-- stage1 table -->
<!-- end stage1 table -->

text between

<!-- stage1 curve -->
<!-- end stage1 curve -->
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage1table")
    assert cli(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(root / "data"), "-q"]) == 0
    for seed in (0, 1):  # a tiny Stage 1 per seed: 4 steps, checkpoints at steps 2 and 4
        assert cli(["align", "--config", str(CONFIGS / "stage1.yaml"), f"data.prepared={root / 'data'}",
                    f"run.out_dir={root / 'runs' / 'tiny' / f'stage1-seed{seed}'}", f"run.seed={seed}",
                    f"run.cache_dir={root / 'cache'}", "eval_generate=0"]) == 0
    return root


def _args(work: Path, *more: str) -> list[str]:
    return ["--data", str(work / "data"), "--n", "6", "--max-new-tokens", "6", "--threads", "1",
            "--records", str(work / "records"), "--doc", str(work / "doc.md"), "--png", str(work / "curve.png"),
            "--out", str(work / "partial"), *more]


def test_rows_records_resume_curve_and_doc(work, capsys):
    (work / "doc.md").write_text(DOC)
    pattern = str(work / "runs" / "tiny" / "stage1-seed{seed}" / "model")
    stage1_table.main(_args(work, "--model-dir-pattern", pattern, "--seeds", "0", "1", "--curve"))
    setting = work / "records" / "uci-har-test6-exact"  # the tiny config trains on exact trends
    for row in ("trained-tiny", "untrained-tiny"):
        for seed in (0, 1):
            rec = json.loads((setting / row / f"seed{seed}.json").read_text())
            assert rec["seed"] == seed and rec["setting"]["n"] == 6 and len(rec["items"]) == 6
            assert rec["decoding"] == {"mode": "greedy", "max_new_tokens": 6, "batch_size": 4}
            assert {"bleu1", "rouge1", "rougeL", "meteor", "sbert", "segment_count_abs_error", "step_accuracy",
                    "boundary_abs_error_s", "overall_ok", "time_outside", "trend_not_in_data"} <= set(rec["scores"])
            assert all("generated" in it for it in rec["items"])
    trained = json.loads((setting / "trained-tiny" / "seed0.json").read_text())
    untrained = json.loads((setting / "untrained-tiny" / "seed0.json").read_text())
    assert trained["model_id"] != untrained["model_id"] and untrained["model_id"].startswith("untrained:")
    for row in stage1_table.REFERENCE_ROWS:
        assert (setting / row / "record.json").exists()
    oracle = json.loads((setting / "template-oracle" / "record.json").read_text())["scores"]
    assert oracle["step_accuracy"] == 1.0 and oracle["boundary_abs_error_s"] == 0.0 and oracle["invented"] == 0.0
    assert oracle["overall_ok"] == 1.0 and oracle["segment_count_abs_error"] == 0.0
    # curve: checkpoints at steps 2 and 4 (2 QA pairs per step); step 4 is the published model: record copied
    curve = sorted(p.name for p in (setting / "curve-tiny").iterdir())
    assert curve == ["seed0-step000002.json", "seed0-step000004.json", "seed1-step000002.json",
                     "seed1-step000004.json"]
    last = json.loads((setting / "curve-tiny" / "seed0-step000004.json").read_text())
    assert last["qa_pairs_seen"] == 8 and last["scores"] == trained["scores"] and "same weights" in last["note"]
    assert not list((work / "partial").rglob("*.jsonl"))  # finished rows leave no generation in progress
    doc = (work / "doc.md").read_text()
    assert "| exact (paper) | paper: Llama-3-8B + Chronos-T5-large (Table 1) | n/r | 56.78 | 67.63 | 63.05 | 45.81 " \
           "| 85.01 |" in doc
    assert "| exact | `trained-tiny` | 0, 1 | " in doc and "| exact | `template-oracle` | – | " in doc
    assert "| exact | tiny | 1 | 0 | 0 |" in doc and "| exact | tiny | 1 | 4 | 8 |" in doc
    assert (work / "curve.png").stat().st_size > 0

    # a second run recomputes nothing; --doc-only rebuilds the same document from the records
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in (work / "records").rglob("*.json")}
    stage1_table.main(_args(work, "--model-dir-pattern", pattern, "--seeds", "0", "1", "--curve"))
    out = capsys.readouterr().out
    assert out.count(": recorded") == len(before) and "describing" not in out
    assert {p: p.stat().st_mtime_ns for p in (work / "records").rglob("*.json")} == before
    (work / "doc.md").write_text(DOC)
    stage1_table.main(_args(work, "--doc-only"))
    assert (work / "doc.md").read_text() == doc


def test_interrupted_row_resumes_from_its_saved_generations(work, monkeypatch):
    from sensorllm.datasets import open_prepared

    items = stage1_eval_items(open_prepared(work / "data"), "test", 6, 0, "exact")
    partial = work / "resume" / "p.partial.jsonl"
    calls = []

    def fake_describe(model, its, batch_size, max_new_tokens, constrained=False):
        calls.append(len(its))
        return [f"text {it.index}" for it in its]

    monkeypatch.setattr("sensorllm.infer.describe.describe_items", fake_describe)
    monkeypatch.setattr(stage1_table, "CHUNK", 4)
    head = {"model": "m", "n": 6, "max_new_tokens": 5, "batch_size": 2,
            "items": [[it.index, it.channel] for it in items]}
    partial.parent.mkdir(parents=True)
    partial.write_text(json.dumps(head) + "\n" + "".join(json.dumps({"generated": f"saved {i}"}) + "\n"
                                                           for i in range(4)))
    got = stage1_table.generate_resumable(lambda: object(), "m", items, partial, 2, 5)
    assert got[:4] == [f"saved {i}" for i in range(4)] and calls == [2]
    # another model: the saved generations are not used
    got = stage1_table.generate_resumable(lambda: object(), "other", items, partial, 2, 5)
    assert all(g.startswith("text") for g in got) and calls == [2, 4, 2]


def test_dry_run_prints_the_plan_and_writes_nothing(work):
    pattern = str(work / "runs" / "tiny" / "stage1-seed{seed}" / "model")
    r = subprocess.run([sys.executable, "benchmarks/stage1_table.py", *_args(work, "--model-dir-pattern", pattern,
                        "--seeds", "0", "5", "--curve", "--records", str(work / "dry-records"), "--dry-run")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "seed 5: no Stage-1 model" in r.stdout
    assert "trained-tiny seed 0: describe with" in r.stdout and "untrained-tiny seed 0: describe with untrained" \
        in r.stdout
    assert "curve-tiny seed 0 step 2: describe with" in r.stdout and "template-span: no LLM" in r.stdout
    assert not (work / "dry-records").exists()


# ---- the scores the harness adds --------------------------------------------------------------------------


def _segs(x):
    return segment_trends(np.asarray(x, float), 50.0)


def test_boundary_error_is_zero_for_the_right_times_and_grows_with_the_shift():
    ref = _segs([0, 1, 2, 1, 0])  # 0.0-0.04 increase, 0.04-0.08 decrease
    assert boundary_error(parse_trend_answer("0.0s to 0.04s: rising\n0.04s to 0.08s: falling"), ref) == 0.0
    shifted = boundary_error(parse_trend_answer("0.0s to 0.06s: rising\n0.06s to 0.08s: falling"), ref)
    # boundaries {0, 0.04, 0.08} against {0, 0.06, 0.08}: one of three is 0.02 off, both ways
    assert shifted == pytest.approx(0.02 / 3)
    assert boundary_error(parse_trend_answer("no segments here"), ref) is None


def test_invented_content_flags_times_past_the_end_and_absent_trends():
    ref = _segs([0, 1, 2, 1, 0])  # ends at 0.08 s; no steady segment
    ok = invented_content("0.0s to 0.04s: rising\n0.04s to 0.08s: falling\n\nBetween 0.0 and 0.08 seconds.", ref)
    assert ok == {"time_outside": False, "trend_not_in_data": False, "invented": False}
    late = invented_content("0.0s to 0.04s: rising\n\nThe readings span 0.0s to 1.5s.", ref)
    assert late["time_outside"] and not late["trend_not_in_data"]
    steady = invented_content("0.0-0.08s: steady", ref)
    assert steady["trend_not_in_data"] and steady["invented"] and not steady["time_outside"]
    counted = invented_content("Number of steady segments: 2", ref)
    assert counted["trend_not_in_data"]
    assert not invented_content("Number of steady segments: 0", ref)["trend_not_in_data"]


def test_overall_direction_of_a_one_segment_text_is_its_segment():
    ref = _segs([0, 1, 2, 3])
    assert structure_scores("0.0s to 0.06s: increasing", ref)["overall_ok"]
    assert not structure_scores("0.0s to 0.06s: decreasing", ref)["overall_ok"]
    assert not structure_scores("nothing", ref)["overall_ok"]
    two = _segs([0, 1, 2, 1, 3])
    assert not structure_scores("0.0-0.04s: rising\n0.04-0.06s: falling\n0.06-0.08s: rising", two)["overall_ok"]
    assert structure_scores("0.0-0.04s: rising\n0.04-0.06s: falling\n0.06-0.08s: rising\n\nOverall, the trend is "
                            "rising.", two)["overall_ok"]


def test_eval_items_are_distinct_seeded_windows_with_the_qa_texts(work):
    from sensorllm.datasets import open_prepared
    from sensorllm.data.items import stage1_items

    data = open_prepared(work / "data")
    a = stage1_eval_items(data, "test", 10, 0, "exact")
    b = stage1_eval_items(data, "test", 10, 0, "exact")
    assert len(a) == 10 and len({it.index for it in a}) == 10
    assert [(it.index, it.channel, it.answer) for it in a] == [(it.index, it.channel, it.answer) for it in b]
    assert {it.channel for it in a} != {a[0].channel}  # channels vary
    full = {(it.index, it.channel): it.answer for it in stage1_items(data, "test", 0, "exact")}
    assert all(full[(it.index, it.channel)] == it.answer for it in a)  # the texts `sensorllm qa` writes
    sc = score_descriptions(a, [it.answer for it in a], "exact", per_item=True, sbert=False)
    assert sc["step_accuracy"] == 1.0 and sc["invented"] == 0.0 and sc["overall_ok"] == 1.0
    assert sc["boundary_abs_error_s"] == 0.0 and sc["parsed_fraction"] == 1.0 and len(sc["items"]) == 10


def test_fixed_wording_reference_rows():
    x = np.array([0.0, 1.0, 1.0, 0.5, 2.0])
    text = stage1_table.fixed_wording(_segs(x), "x-axis accelerometer")
    assert text.startswith("0.0s to 0.02s: upward\n0.02s to 0.04s: steady\n")
    span = stage1_table.fixed_wording(stage1_table.span_segments(x, 50.0), "x-axis accelerometer")
    assert span.startswith("0.0s to 0.08s: steady\n\n")
    train = [{"answer": "0.0s to 0.08s: rising", "summary": "s1"}, {"answer": "0.0-0.08s: upward", "summary": "s2"},
             {"answer": "0.0-0.08s: upward", "summary": "s3"}, {"answer": "0.0s to 0.1s: steady", "summary": "s4"}]
    text, notes = stage1_table.most_common_text(train)
    assert text == "0.0-0.08s: upward\n\ns2" and notes["with_this_content"] == 3 and notes["with_this_answer"] == 2


def test_results_doc_stage1_table_regenerates_from_the_committed_records(tmp_path):
    doc = (ROOT / "docs" / "results.md").read_text()
    copy = tmp_path / "results.md"
    copy.write_text(doc)
    # the doc links the curve's png by its file name, so the copy's png keeps that name
    stage1_table.main(["--doc-only", "--doc", str(copy), "--png", str(tmp_path / "stage1-curve.png")])
    again = copy.read_text()
    for name in ("stage1 table", "stage1 curve"):  # the generated parts only; the prose around them is not pinned
        start, end = f"<!-- {name} -->", f"<!-- end {name} -->"
        assert again[again.index(start): again.index(end)] == doc[doc.index(start): doc.index(end)]
    assert "python benchmarks/stage1_table.py" in doc


# ---- METEOR's WordNet ---------------------------------------------------------------------------------------


@pytest.fixture
def fresh_wordnet():
    from sensorllm.eval import textscore

    textscore.wordnet_source.cache_clear()
    yield textscore
    textscore.wordnet_source.cache_clear()


@pytest.mark.skipif(not (Path("/usr/share/wordnet") / "data.noun").exists(),
                    reason="Debian's wordnet-base is not installed (make install does it as root)")
def test_meteor_reads_debian_wordnet_offline_and_matches_synonyms(fresh_wordnet):
    reader, source = fresh_wordnet.wordnet_source()
    assert reader is not None and "wordnet" in source.lower()
    from nltk.translate.meteor_score import meteor_score

    ref = ["the", "trend", "is", "rising"]
    assert meteor_score([ref], ["the", "trend", "is", "ascending"], wordnet=reader) > \
        meteor_score([ref], ["the", "trend", "is", "purple"], wordnet=reader)
    s = fresh_wordnet.text_scores(["the trend is ascending"], ["the trend is rising"], sbert=False)
    assert 0.5 < s["meteor"] <= 1.0 and s["meteor_wordnet"] == source


def test_meteor_is_not_computed_without_wordnet(fresh_wordnet, monkeypatch, tmp_path):
    import nltk

    def missing(resource, *args, **kwargs):
        raise LookupError(resource)

    monkeypatch.setattr(nltk.data, "find", missing)
    monkeypatch.setenv("SENSORLLM_WORDNET_DIR", str(tmp_path / "none"))
    s = fresh_wordnet.text_scores(["a b"], ["a b"], sbert=False)
    assert s["meteor"] is None and s["meteor_wordnet"].startswith("not computed")
