"""No pickle on any load path: the source must not use pickle, np.load(allow_pickle=True) or torch.load
without weights_only=True."""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "sensorllm"
PATTERNS = [
    (re.compile(r"^\s*(import pickle|from pickle import|import cPickle|import dill|import joblib)", re.M), "pickle module"),
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"\bpd\.read_pickle\(|\.read_pickle\("), "pandas.read_pickle"),
]
TORCH_LOAD = re.compile(r"torch\.load\(([^)]*)\)")


def test_no_pickle_on_load_paths():
    problems = []
    for f in sorted(SRC.rglob("*.py")):
        text = f.read_text()
        for rx, what in PATTERNS:
            for m in rx.finditer(text):
                problems.append(f"{f.relative_to(SRC)}:{text[:m.start()].count(chr(10)) + 1}: {what}")
        for m in TORCH_LOAD.finditer(text):
            if "weights_only=True" not in m.group(1):
                problems.append(f"{f.relative_to(SRC)}:{text[:m.start()].count(chr(10)) + 1}: torch.load without weights_only=True")
    assert not problems, "\n".join(problems)


def test_scanner_catches_a_violation(tmp_path):
    bad = "import pickle\nx = np.load(p, allow_pickle=True)\ny = torch.load(f)\n"
    hits = [what for rx, what in PATTERNS if rx.search(bad)]
    assert "pickle module" in hits and "np.load(allow_pickle=True)" in hits
    assert any("weights_only=True" not in m.group(1) for m in TORCH_LOAD.finditer(bad))
