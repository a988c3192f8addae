"""benchmarks/pretrain_curve.py: the documented table comes from curve.json alone."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import pretrain_curve as pc  # noqa: E402


def _curve(tmp_path: Path, done: str | None, test: dict | None) -> Path:
    recs = tmp_path / "recs"
    recs.mkdir()
    doc = {"config": "configs/x.yaml", "probe": "chronos-mlp (frozen features)", "best_step": 1000,
           "points": [{"step": 0, "val_f1_macro": 0.5, "val_accuracy": 0.52, "pretrain_val_loss": None},
                      {"step": 1000, "val_f1_macro": 0.8123, "val_accuracy": 0.8, "pretrain_val_loss": 4.25}],
           "done": done, "pretrain_val_curve": [[0, 8.3], [500, 5.0], [1000, 4.25]], "pretrain_steps": 1050,
           "test": test}
    (recs / "curve.json").write_text(json.dumps(doc))
    return recs


def _doc(tmp_path: Path) -> Path:
    doc = tmp_path / "learning.md"
    doc.write_text(f"before\n{pc.MARKERS[0]}\nold\n{pc.MARKERS[1]}\nafter\n")
    return doc


def test_the_table_lists_every_probed_step_with_the_pretraining_loss(tmp_path):
    doc = _doc(tmp_path)
    pc.write_doc(_curve(tmp_path, None, None), doc)
    text = doc.read_text()
    assert "\nold\n" not in text and text.startswith("before\n") and text.endswith("after\n")
    assert "| 0 | 8.300 | 50.0 | 52.0 |" in text  # the loss from the validation curve when the record lacks it
    assert "| 1,000 (best) | 4.250 | 81.2 | 80.0 |" in text
    assert "Not done: the pre-training is at step 1050" in text and "Test (once" not in text


def test_a_finished_curve_states_why_and_its_one_test_score(tmp_path):
    doc = _doc(tmp_path)
    pc.write_doc(_curve(tmp_path, "pre-training finished (20000 steps)", {"step": 1000, "f1_macro": 0.834,
                                                                          "accuracy": 0.84}), doc)
    text = doc.read_text()
    assert "Done: pre-training finished (20000 steps)." in text
    assert "Test (once, the snapshot of step 1,000, chosen on validation): F1-macro 83.4, accuracy 84.0." in text
