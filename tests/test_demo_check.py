"""The demo's last step checks the descriptions of a few seeded validation windows (issue 33: ``make demo``
prints the check's pass rate over a few validation windows, not only one), on a tiny random Stage-1 model."""

from __future__ import annotations

import re
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from sensorllm.cli.main import main
from sensorllm.datasets import open_prepared
from sensorllm.serve.predict import check_passes, check_rate, description_check
from sensorllm.text import record_rng, stage1_qa

sys.path.insert(0, str(Path(__file__).parent / "model"))
from _model_helpers import build_tiny  # noqa: E402

DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"
RATE_RE = re.compile(r"^-- check over (\d+) seeded validation windows \(one channel each, up to (\d+) samples\): "
                     r"(\d+)/(\d+) pass \((\d+) %; segment lines and the right overall direction\): segment lines "
                     r"in (\d+)/\d+, overall direction right in (\d+)/\d+; (\d+)/\d+ name a time after the last "
                     r"sample$", re.MULTILINE)


@pytest.fixture(scope="module")
def stage1(tmp_path_factory):
    """A prepared demo subset and a tiny random Stage-1 model saved for it, as `align` saves one."""
    from sensorllm.model import save_checkpoint

    root = tmp_path_factory.mktemp("demo-check")
    assert main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(root / "data"), "-q"]) == 0
    data = open_prepared(root / "data")
    model = build_tiny(channels=tuple(data.channel_names), labels=None)
    save_checkpoint(model, root / "s1", extra={"stage": "stage1", "dataset": data.manifest["spec"],
                                               "rate_hz": data.rate_hz, "trend_mode": "tolerant", "text_seed": 0})
    return root, data


def _series(data, res: dict) -> np.ndarray:
    x = np.asarray(data.stage1("val")[res["window"]], dtype=np.float64)
    return x[: res["samples"], list(data.channel_names).index(res["channel"])]


def _printed(out: str) -> tuple[int, ...]:
    m = RATE_RE.search(out)
    assert m, out
    return tuple(int(v) for v in m.groups())


def test_the_rate_line_counts_describes_own_check(stage1, capsys):
    from sensorllm.cli.demo_cmd import check_validation_windows

    root, data = stage1
    capsys.readouterr()
    got = check_validation_windows(root / "s1", root / "data", n=4, length=12, max_new_tokens=16)
    n, length, passed, n2, pct, lines, overall, outside = _printed(capsys.readouterr().out)
    assert (n, n2, length) == (4, 4, 12) and len(got["results"]) == 4
    assert len({r["window"] for r in got["results"]}) == 4  # four different windows
    checks = []
    for r in got["results"]:
        assert r["samples"] == min(12, len(data.stage1("val")[r["window"]]))
        c = description_check(r["description"], _series(data, r), data.rate_hz, "tolerant")
        assert c == r["check"]  # each window's check is describe's own
        checks.append(c)
    assert passed == sum(check_passes(c) for c in checks) == got["passed"]
    assert lines == sum(c["segments_in_text"] > 0 for c in checks)
    assert overall == sum(c["overall_right"] for c in checks)
    assert outside == sum(c["names_time_outside_window"] for c in checks)
    assert pct == round(100 * passed / 4)
    # seeded: the same windows and channels again
    again = check_validation_windows(root / "s1", root / "data", n=4, length=12, max_new_tokens=16)
    assert [(r["window"], r["channel"]) for r in again["results"]] == [(r["window"], r["channel"])
                                                                      for r in got["results"]]


def test_the_rate_follows_the_descriptions(stage1, capsys, monkeypatch):
    """Descriptions that state the window's own trends pass, others fail: the printed rate is the check's count,
    whatever the model writes."""
    import sensorllm.infer.describe as describe_mod
    from sensorllm.cli.demo_cmd import check_validation_windows

    root, data = stage1

    def fake(model, items, batch_size=4, max_new_tokens=256, constrained=False):
        out = []
        for k, it in enumerate(items):
            qa = stage1_qa(np.asarray(it.series), it.channel, it.rate_hz, record_rng(0, 1, "t", k), mode="tolerant")
            out.append(f"{qa['answer']}\n\n{qa['summary']}" if k % 3 else "The readings vary over time.")
        return out

    monkeypatch.setattr(describe_mod, "describe_items", fake)
    capsys.readouterr()
    got = check_validation_windows(root / "s1", root / "data", n=6, length=30)
    _, _, passed, n, _, lines, overall, _ = _printed(capsys.readouterr().out)
    expected = check_rate([description_check(r["description"], _series(data, r), data.rate_hz, "tolerant")
                           for r in got["results"]])
    assert (passed, n, lines, overall) == (expected["passed"], 6, expected["segment_lines"],
                                           expected["overall_right"])
    assert lines == 4  # the 4 true descriptions have segment lines, the 2 others none
    assert 0 < passed <= 4  # at least one passes (a true one with more than one segment), the 2 others fail


def test_check_rate_counts():
    ok = {"segments_in_text": 2, "overall_right": True, "names_time_outside_window": False}
    no_lines = {"segments_in_text": 0, "overall_right": True, "names_time_outside_window": False}
    wrong = {"segments_in_text": 3, "overall_right": False, "names_time_outside_window": True}
    assert [check_passes(c) for c in (ok, no_lines, wrong)] == [True, False, False]
    assert check_rate([ok, no_lines, wrong, ok]) == {"n": 4, "passed": 2, "segment_lines": 3, "overall_right": 3,
                                                     "time_outside": 1}


def test_the_demo_checks_constrained_descriptions_and_free_ones_on_request(stage1, capsys):
    """The demo describes inside the answer grammar (describe --constrained): even the tiny random model then
    writes segment lines for every window; free decoding is one argument away and is flagged as such."""
    from sensorllm.cli.demo_cmd import CONSTRAINED, check_validation_windows

    root, _ = stage1
    assert CONSTRAINED is True
    held = check_validation_windows(root / "s1", root / "data", n=3, length=12, max_new_tokens=300)
    assert all(r["constrained"] for r in held["results"]) and held["segment_lines"] == 3
    assert held["time_outside"] == 0  # the grammar keeps every segment time inside the window
    free = check_validation_windows(root / "s1", root / "data", n=3, length=12, max_new_tokens=24, constrained=False)
    assert not any(r["constrained"] for r in free["results"])
