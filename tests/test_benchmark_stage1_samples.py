"""benchmarks/stage1_samples.py: first trend and number of segment lines against the reference."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import stage1_samples as ss  # noqa: E402

REF = "0.0s to 0.1s: rising\n0.1s to 0.2s: falling\n\nThe data rises, then falls."


def test_counts_first_trend_and_lines(tmp_path):
    rows = [{"generated": "0.0s to 0.2s: increasing\n\nIt rises.", "reference": REF},  # right first, fewer
            {"generated": "0.0s to 0.1s: falling\n0.1s to 0.2s: rising\n\nNo.", "reference": REF},  # wrong, same
            {"generated": "Nothing parsable.", "reference": REF}]  # no lines: fewer, first not right
    (tmp_path / "samples.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    s = ss.summarise(tmp_path / "samples.jsonl")
    assert (s["n"], s["first_trend_right"], s["fewer_lines"], s["same_lines"], s["more_lines"]) == (3, 1, 2, 1, 0)
    assert s["lines_generated_reference"] == [[1, 2], [2, 2], [0, 2]]
