"""The results documents' tables are rebuilt from the git-tracked records alone (``benchmarks/results.py
--doc-only``, nothing trained): regenerating reproduces each document byte for byte, prose included."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("doc", ["docs/results.md", "docs/results-gpu.md"])
def test_results_doc_regenerates_from_records(doc: str, tmp_path: Path):
    text = (ROOT / doc).read_text()
    assert "not run yet" not in text
    cmd = re.search(r"Produced by `python benchmarks/results\.py ([^`]*)`", text).group(1)
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
    assert copy.read_text().replace(f" --doc {copy}", f" --doc {orig}" if orig else "") == text
