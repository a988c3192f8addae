"""The ``minirocket`` baseline (aeon's MiniRocket + ridge): it learns the sine classes through the real CLI, saves
without pickle, and a loaded model gives the same predictions; bad inputs and arguments are refused."""

import json

import numpy as np
import pytest

from sensorllm.baselines import get_baseline
from sensorllm.baselines.config import resolve_config
from sensorllm.baselines.minirocket import MiniRocketRidge
from sensorllm.infer.artifact import load_model
from sensorllm.cli.main import main
from test_baselines import write_prepared

pytest.importorskip("aeon")
pytestmark = pytest.mark.usefixtures("one_thread")


def test_minirocket_beats_chance_through_the_cli_and_round_trips(tmp_path):
    data = write_prepared(tmp_path / "sines")
    out = tmp_path / "mr"
    assert main(["baseline", "minirocket", "--data", str(data), "--out", str(out),
                 "--model-arg", "n_kernels=840"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["accuracy"] > 0.8
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in out.rglob("*"))
    loaded = load_model(out)
    assert isinstance(loaded, MiniRocketRidge)
    test = np.load(data / "stage2" / "test" / "windows.npy")
    np.testing.assert_array_equal(loaded.predict(test), np.load(out / "test_predictions.npy"))


def test_minirocket_same_seed_same_features_other_seed_differs():
    w = np.random.default_rng(0).normal(size=(12, 32, 3)).astype(np.float32)
    y = np.arange(12) % 2
    a = MiniRocketRidge(0, 20.0, n_kernels=168).fit(w, y)
    b = MiniRocketRidge(0, 20.0, n_kernels=168).fit(w, y)
    c = MiniRocketRidge(1, 20.0, n_kernels=168).fit(w, y)
    np.testing.assert_array_equal(a.features(w), b.features(w))
    assert not np.array_equal(a.features(w), c.features(w))
    assert a.decision(w).shape == (12, 2)  # two classes: [-s, s]


def test_minirocket_refuses_bad_windows_and_arguments():
    m = MiniRocketRidge(0, 20.0, n_kernels=84)
    with pytest.raises(ValueError, match="at least 9 samples"):
        m.fit(np.zeros((4, 8, 1), dtype=np.float32), np.array([0, 1, 0, 1]))
    bad = np.random.default_rng(0).normal(size=(4, 16, 1))
    bad[1, 3, 0] = np.inf
    with pytest.raises(ValueError, match="must be finite"):
        m.fit(bad, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="n_kernels=10"):
        get_baseline("minirocket").resolve_model_args({"n_kernels": 10})
    assert resolve_config("minirocket", "D", "O").model_args["n_kernels"] == 10_000
