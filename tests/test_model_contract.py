"""One model contract: :func:`sensorllm.infer.artifact.load_model` loads every model kind (each baseline and a
SensorLLM) as a :class:`~sensorllm.classifier.Classifier`, and ``evaluate``, ``predict``, ``stream`` and
``compare`` load through it and through nothing else; the baselines implement the interface themselves (no
``hasattr`` dispatch); an older checkpoint fails with one line naming its file."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_predict_any_model import CHANNELS, CLASSES, CONFIGS, recordings_frame, write_prepared

import sensorllm
from sensorllm.classifier import Classifier, ModelDirError, ModelInfo
from sensorllm.cli.main import main
from sensorllm.infer import artifact

SRC = Path(sensorllm.__file__).resolve().parent
pytestmark = pytest.mark.usefixtures("one_thread")

# every registered baseline, trained briefly (the Chronos ones on a random-init tiny encoder)
BASELINE_ARGS = {
    "cnn1d": ["--epochs", "1"],
    "deepconvlstm": ["--epochs", "1"],
    "deepconvlstm-attn": ["--epochs", "1"],
    "attend": ["--epochs", "1"],
    "features-rf": ["--model-arg", "n_estimators=10"],
    "chronos-mlp": ["--model-arg", "device=cpu", "--model-arg", "hidden=8", "--model-arg", "epochs=2"],
    "chronos-ncm": ["--model-arg", "device=cpu"],
    "minirocket": ["--model-arg", "n_kernels=168"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from sensorllm.baselines import list_baselines

    assert set(BASELINE_ARGS) == set(list_baselines())  # a new baseline joins this test
    root = tmp_path_factory.mktemp("contract")
    data = write_prepared(root / "data")
    out = {}
    for name, extra in BASELINE_ARGS.items():
        if name == "minirocket":
            pytest.importorskip("aeon")
        run = root / name
        if name.startswith("chronos"):  # the second reads the features the first computed
            extra = [*extra, "--model-arg", f"cache_dir={root / 'cache'}"]
        assert main(["baseline", name, "--data", str(data), "--out", str(run), "--seed", "1", "--threads", "1",
                     "--device", "cpu", *extra]) == 0
        out[name] = run
    out["sensorllm"] = _sensorllm_checkpoint(data, root / "sllm" / "model")
    out["data"] = data
    return out


def _sensorllm_checkpoint(data: Path, path: Path) -> Path:
    """A tiny random Stage-2 SensorLLM for ``data``, saved as `sensorllm tune` saves it."""
    from sensorllm.datasets import open_prepared
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.train.common import checkpoint_extra
    from sensorllm.train.config import Stage2Config, load_config

    cfg = load_config(Stage2Config, CONFIGS / "stage2.yaml", [f"data.prepared={data}"])
    extra = checkpoint_extra(cfg, open_prepared(data), "stage2", init_from=None)
    mcfg = SensorLLMConfig(channels=tuple(CHANNELS), llm=LLMConfig(name="tiny-random-llama", seed=0),
                           encoder=EncoderConfig(size="tiny", seed=0),
                           projector=ProjectorConfig(preset="custom", hidden=(64,), pool=4), labels=tuple(CLASSES))
    return artifact.save_model(build_sensor_llm(mcfg, head_seed=1), path, extra=extra)


# ---- the loader loads every kind ---------------------------------------------------------------------------


def test_load_model_loads_every_kind_as_a_classifier(runs):
    test = np.load(runs["data"] / "stage2" / "test" / "windows.npy")
    for name in [*BASELINE_ARGS, "sensorllm"]:
        clf = artifact.load_model(runs[name], command="predict")
        assert isinstance(clf, Classifier), name
        info = clf.info
        assert info.kind == ("sensorllm" if name == "sensorllm" else "baseline")
        assert info.name == ("SensorLLM" if name == "sensorllm" else name)
        assert info.channel_names == CHANNELS and info.class_names == CLASSES and clf.notes is not None
        w = test[:6] if name == "sensorllm" else test
        p = clf.predict_proba(w)
        assert p.shape == (len(w), len(CLASSES)) and np.allclose(p.sum(1), 1.0), name
        assert clf.predict_proba(w[:0]).shape == (0, len(CLASSES))
        if name != "sensorllm":  # the probabilities' argmax is the class the run itself predicted on its test split
            np.testing.assert_array_equal(p.argmax(1), np.load(runs[name] / "test_predictions.npy"), err_msg=name)
        with pytest.raises(ValueError, match=r"expected windows of shape \(N, L, 3\)"):
            clf.predict_proba(w[:, :, :2])
    assert "gives no class probabilities" in " ".join(artifact.load_model(runs["chronos-ncm"]).notes)


def test_a_stage1_sensorllm_loads_but_does_not_classify(runs, tmp_path):
    from sensorllm.datasets import open_prepared
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
    from sensorllm.train.common import checkpoint_extra
    from sensorllm.train.config import Stage1Config, load_config

    cfg = load_config(Stage1Config, CONFIGS / "stage1.yaml", [f"data.prepared={runs['data']}"])
    mcfg = SensorLLMConfig(channels=tuple(CHANNELS), llm=LLMConfig(name="tiny-random-llama", seed=0),
                           encoder=EncoderConfig(size="tiny", seed=0),
                           projector=ProjectorConfig(preset="custom", hidden=(64,), pool=4))
    stage1 = artifact.save_model(build_sensor_llm(mcfg), tmp_path / "stage1",
                                 extra=checkpoint_extra(cfg, open_prepared(runs["data"]), "stage1"))
    with pytest.raises(ModelDirError, match="is a Stage-1 SensorLLM model"):
        artifact.load_model(stage1, command="predict")
    clf = artifact.load_model(stage1)  # what `evaluate` scores descriptions with
    assert clf.info.stage == "stage1" and clf.info.class_names == [] and clf.model.head is None
    with pytest.raises(ValueError, match="this is a Stage-1 model"):
        clf.predict_proba(np.zeros((1, 48, 3)))
    older = tmp_path / "older"
    shutil.copytree(runs["sensorllm"], older)
    meta = json.loads((older / "config.json").read_text())
    meta["format_version"] = 0
    (older / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelDirError, match=f"{older} is a SensorLLM checkpoint of format_version 0"):
        artifact.load_model(older)


# ---- every command loads through it -------------------------------------------------------------------------


def test_evaluate_predict_stream_and_compare_load_through_load_model(runs, tmp_path, monkeypatch):
    """Each command's models come from ``artifact.load_model`` (a spy counts the calls), SensorLLM and
    baselines alike; ``compare`` scores its SensorLLM rows through ``evaluate`` (its baselines are scored by the
    training program on the model in memory)."""
    calls: list[str] = []
    real = artifact.load_model

    def spy(model, *a, **k):
        calls.append(Path(getattr(model, "path", model)).name)
        return real(model, *a, **k)

    import sys

    import sensorllm.infer.evaluate  # noqa: F401  (imports the loader by name: patched below as well)

    for mod in [m for name, m in list(sys.modules.items()) if name.startswith("sensorllm")]:
        if getattr(mod, "load_model", None) is real:  # every module's reference to the one loader
            monkeypatch.setattr(mod, "load_model", spy)
    rec = tmp_path / "rec.csv"
    recordings_frame().to_csv(rec, index=False)
    for name in ("features-rf", "sensorllm"):
        model = str(runs[name])
        calls.clear()
        assert main(["evaluate", "--model", model, "--data", str(runs["data"]), "--out", str(tmp_path / "ev"),
                     "--limit", "6"]) == 0
        assert main(["predict", "--model", model, str(rec), "--out", str(tmp_path / "p.csv")]) == 0
        assert main(["stream", "--model", model, "--replay", str(rec), "--speed", "0",
                     "--out", str(tmp_path / "s.csv")]) == 0
        assert calls == [runs[name].name] * 3, (name, calls)

    # compare: Stage 2 replaced by a copy of the checkpoint, then scored on the test split like any SensorLLM row
    import sensorllm.train.tune as tune
    from sensorllm.compare import CompareSettings, Method, run_comparison

    def fake_tune(cfg, progress=None):
        shutil.copytree(runs["sensorllm"], Path(cfg.run.out_dir) / "model")
        return {"steps": 0, "train_time_s": 0.0, "best_step": 0, "best_val_f1_macro": 0.0, "device": "cpu",
                "trainable": {"projector": 1}}

    monkeypatch.setattr(tune, "run_tune", fake_tune)
    calls.clear()
    res = run_comparison(CompareSettings(data=runs["data"], out=tmp_path / "cmp", test_limit=6),
                         [Method("sensorllm-no-stage1", stage1=False, stage2_overrides=("init_from=null",))],
                         log=lambda s: None, stop_on_error=True)
    assert calls == ["seed0"] and [r.method for r in res.rows] == ["sensorllm-no-stage1"]


def _functions_called(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def test_no_other_loader_is_called_outside_the_artifact_module():
    """The readers of each kind's files (a SensorLLM checkpoint, a baseline run's model) are called from the
    artifact module only, so every command goes through :func:`~sensorllm.infer.artifact.load_model`."""
    readers = {"load_checkpoint", "read_checkpoint_config", "load_forest"}
    allowed = {"infer/artifact.py", "model/checkpoint.py", "baselines/features.py"}  # the loader and the readers
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel not in allowed:
            found += [f"{rel}: {n}" for n in _functions_called(path) & readers]
    assert not found, found
    # the loaded baselines come from BaselineSpec.load, called by the artifact module only
    loads = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
             if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "load"
                    and isinstance(n.func.value, ast.Call) and getattr(n.func.value.func, "id", "") == "get_baseline"
                    for n in ast.walk(ast.parse(p.read_text())))]
    assert loads == ["infer/artifact.py"]


def test_the_classifiers_dispatch_on_nothing():
    """The baselines implement the interface themselves: no ``hasattr`` in the classifier contract, the
    baselines, the inference or the serving packages."""
    found = []
    for part in ("classifier.py", "baselines", "infer", "serve"):
        for path in sorted((SRC / part).rglob("*.py") if (SRC / part).is_dir() else [SRC / part]):
            if "hasattr" in _functions_called(path):
                found.append(path.relative_to(SRC).as_posix())
    assert not found, found


def test_every_baseline_opens_predict_proba_with_window_proba():
    """Each baseline's ``predict_proba`` goes through :meth:`Classifier.window_proba` (windows checked, cast to
    float32, no windows → zeros ``(0, K)``) instead of a copy of it."""
    found = {}
    for path in sorted((SRC / "baselines").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for f in node.body:
                    if isinstance(f, ast.FunctionDef) and f.name == "predict_proba":
                        calls = {c.func.attr for c in ast.walk(f) if isinstance(c, ast.Call)
                                 and isinstance(c.func, ast.Attribute)}
                        found[node.name] = "window_proba" in calls
    assert len(found) >= 5 and all(found.values()), found


def test_window_proba_checks_casts_and_answers_no_windows_with_zeros():
    info = ModelInfo(path=Path("m"), model_dir=Path("m"), kind="baseline", name="m", stage=None,
                     channel_names=CHANNELS, channels=None, class_names=CLASSES, window=None, rate_hz=None,
                     stride=None, max_gap=10, channel_stats=None)
    clf = Classifier().bind(info)
    seen = []

    def proba(w, k):
        seen.append(w)
        return np.full((len(w), k), 1.0 / k)

    w = np.asfortranarray(np.random.default_rng(0).normal(size=(4, 8, len(CHANNELS))))  # float64, Fortran order
    assert clf.window_proba(w, proba).shape == (4, len(CLASSES))
    assert seen[0].dtype == np.float32 and seen[0].flags.c_contiguous
    np.testing.assert_array_equal(seen[0], w.astype(np.float32))
    empty = clf.window_proba(w[:0], proba)
    assert empty.shape == (0, len(CLASSES)) and empty.dtype == np.float64 and len(seen) == 1  # proba not called
    with pytest.raises(ValueError, match=r"expected windows of shape \(N, L, 3\) for channels"):
        clf.window_proba(w[:, :, :2], proba)


# ---- older training checkpoints ------------------------------------------------------------------------------


def test_an_older_trainer_state_fails_with_one_line_naming_the_file(tmp_path):
    from sensorllm.train.state import LOOP_STATE_KEYS, OlderCheckpoint, read_trainer_state

    ckpt = tmp_path / "checkpoints" / "step-000010"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": 10, "best_metric": 0.5, "best_step": 10}))
    with pytest.raises(OlderCheckpoint, match=rf"{ckpt / 'trainer_state.json'} has no train_time_s: it was "
                                              "written by an older version"):
        read_trainer_state(ckpt, LOOP_STATE_KEYS)
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": 10, "best_metric": 0.5, "best_step": 10,
                                                         "train_time_s": 3.0}))
    assert read_trainer_state(ckpt, LOOP_STATE_KEYS)["train_time_s"] == 3.0


def test_a_stream_gives_the_loaded_classifiers_probabilities(runs):
    """``StreamClassifier.from_checkpoint`` classifies with the classifier :func:`load_model` gives."""
    from sensorllm.serve.stream import StreamClassifier

    rec = recordings_frame()
    x = rec[rec["recording"] == "r2"][CHANNELS].to_numpy()
    clf = StreamClassifier.from_checkpoint(runs["cnn1d"])
    assert clf.channel_names == CHANNELS and clf.class_names == CLASSES
    decisions = clf.push(x)
    model = artifact.load_model(runs["cnn1d"])
    windows = np.stack([x[d.start_sample:d.end_sample] for d in decisions])
    np.testing.assert_allclose([d.probs for d in decisions], model.predict_proba(windows), atol=1e-6)
