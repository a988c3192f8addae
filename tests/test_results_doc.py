"""The results documents' tables are rebuilt from the git-tracked records alone (``benchmarks/results.py
--doc-only``, nothing trained): regenerating reproduces the generated table (the text between the
``<!-- results table -->`` markers) and the document keeps the command line that makes it. The prose around
the tables is written by hand and not pinned here."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def generated(text: str, name: str) -> str:
    """The text between ``<!-- name -->`` and ``<!-- end name -->`` of a document."""
    start, end = f"<!-- {name} -->", f"<!-- end {name} -->"
    assert start in text and end in text, f"the document lacks the {start} markers"
    return text[text.index(start) + len(start): text.index(end)]


@pytest.mark.parametrize("doc", ["docs/results.md", "docs/results-gpu.md"])
def test_results_doc_regenerates_from_records(doc: str, tmp_path: Path):
    text = (ROOT / doc).read_text()
    table = generated(text, "results table")
    assert "not run yet" not in table
    cmd = re.search(r"Produced by `python benchmarks/results\.py ([^`]*)`", table).group(1)
    args = shlex.split(cmd)
    orig = args[args.index("--doc") + 1] if "--doc" in args else None
    if orig:
        del args[args.index("--doc"): args.index("--doc") + 2]
    copy = tmp_path / "doc.md"
    copy.write_text(text)
    r = subprocess.run([sys.executable, "benchmarks/results.py", *args, "--doc", str(copy), "--doc-only"],
                       check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "not rewriting" not in r.stdout
    again = generated(copy.read_text(), "results table")
    assert again.replace(f" --doc {copy}", f" --doc {orig}" if orig else "") == table


def test_second_dataset_table_regenerates_from_records(tmp_path: Path):
    text = (ROOT / "docs/results.md").read_text()
    start, end = "<!-- epilepsy table -->", "<!-- end epilepsy table -->"
    assert start in text and end in text
    copy = tmp_path / "doc.md"
    copy.write_text(text)
    r = subprocess.run([sys.executable, "benchmarks/second_dataset.py", "--dataset", "epilepsy", "--seeds", "0", "1", "2",
                        "--doc-only", "--doc", str(copy)], check=False, cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    table = lambda t: t[t.index(start): t.index(end)]  # noqa: E731
    assert table(copy.read_text()) == table(text)
