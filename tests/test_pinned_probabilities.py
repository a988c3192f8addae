"""Two small trained SensorLLMs give the Stage-2 class probabilities recorded in ``tests/data/pinned_stage2``:
bit for bit at batch size 1, within 1e-6 (and the same predicted class) at batch size 4.

The probabilities were recorded once, before the window contract changed (a batch carries the series as one
``(B, C, L)`` tensor from the prepared windows to the encoder): a refactor of the path from windows to logits
must not change what a trained model outputs. Two paths are pinned for each model:

- ``dataset``: windows of a prepared split → Stage-2 items (texts with the split's seeds) → batched inference
  (what ``sensorllm tune`` validates on and ``sensorllm evaluate`` scores);
- ``predict``: windows of a recording → the SensorLLM classifier (texts with the ``predict`` seeds; what
  ``sensorllm predict`` and ``stream`` run).

The models: ``chronos`` (frozen random-init Chronos-T5-tiny, mean pooling over 4 tokens, the paper's layout;
also with the embedding cache) and ``conv`` (the trained ``conv`` encoder, ``text_first`` layout, the head on
the last token and the channel means, standardised). Both were trained for a few steps on other synthetic
windows (``python tests/test_pinned_probabilities.py --record`` rebuilt them; it is kept for the record).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data" / "pinned_stage2"
MODELS = ("chronos", "conv")
CHANNELS = ("x_acc", "y_acc", "z_acc")
CLASSES = ("walking", "sitting", "lying")
RATE = 50.0
LENGTH = 32

pytestmark = pytest.mark.usefixtures("one_thread")


def _spec() -> dict:
    """The dataset spec the models were trained with (``extra["dataset"]`` of their checkpoints)."""
    axes = [("x", "m/s^2"), ("y", "m/s^2"), ("z", "m/s^2")]
    return {
        "name": "pinned", "title": "pinned synthetic windows",
        "channels": [{"name": f"{a}_acc", "description": f"{a}-axis accelerometer", "sensor": "acc", "axis": a,
                      "placement": "waist", "unit": u, "sensor_range": None} for a, u in axes],
        "rate_hz": RATE, "raw_rate_hz": RATE,
        "classes": [{"raw_id": i, "name": n, "description": "", "code": ""} for i, n in enumerate(CLASSES)],
        "window": LENGTH, "stride": LENGTH // 2, "stage1_window": [8, 16], "test_subjects": ["1"],
        "train_subjects": None, "val_fraction": 0.0, "val_subjects": None,
    }


def _windows(seed: int, n: int) -> np.ndarray:
    """``(n, LENGTH, 3)`` float32 synthetic accelerometer windows (an oscillation, a step, noise, gravity on z)."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / RATE
    out = np.empty((n, LENGTH, len(CHANNELS)), dtype=np.float32)
    for i in range(n):
        for c in range(len(CHANNELS)):
            x = np.sin(2 * np.pi * (1 + c + i % 3) * t + rng.uniform(0, 6)) + (t > t.mean()) * rng.normal()
            out[i, :, c] = x + 0.1 * rng.normal(size=LENGTH) + (9.81 if c == 2 else 0.0)
    return out


def _write_prepared(root: Path, windows: np.ndarray, labels: np.ndarray) -> Path:
    """A prepared dataset directory holding ``windows`` as its test split (Stage 2 only)."""
    spec = _spec()
    d = root / "stage2" / "test"
    d.mkdir(parents=True)
    n = len(windows)
    np.save(d / "windows.npy", windows.astype(np.float32))
    np.save(d / "labels.npy", labels.astype(np.int64))
    np.save(d / "subjects.npy", np.array(["1"] * n))
    np.save(d / "starts.npy", np.arange(n, dtype=np.int64) * LENGTH)
    np.save(d / "recordings.npy", np.zeros(n, dtype=np.int64))
    manifest = {"dataset": "pinned", "spec": spec, "rate_hz": RATE, "window": LENGTH, "stride": LENGTH // 2,
                "channels": list(CHANNELS), "classes": list(CLASSES), "seed": 0,
                "splits": {"test": {"windows": n}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _load(name: str):
    from sensorllm.model import load_checkpoint, read_checkpoint_config

    return load_checkpoint(DATA / name).eval(), read_checkpoint_config(DATA / name)


# ---- the two paths (the code under test) ------------------------------------------------------------------


def dataset_probs(model, meta: dict, prepared: Path, batch_size: int) -> np.ndarray:
    from sensorllm.data import TextSettings, stage2_items
    from sensorllm.datasets import open_prepared
    from sensorllm.infer.stage2 import predict_proba

    text = TextSettings.of_checkpoint(meta["extra"], model.encoder.normalizes_series)
    items = stage2_items(open_prepared(prepared), "test", text, channels=model.channels)
    probs, _ = predict_proba(model, items, batch_size)
    return probs


def predict_probs(model, meta: dict, windows: np.ndarray, batch_size: int) -> np.ndarray:
    from sensorllm.infer.sensorllm import SensorLLMClassifier

    indices = [3 * k + 1 for k in range(len(windows))]  # window numbers within a recording (the text seeds)
    return SensorLLMClassifier(model, meta).predict_proba(windows, indices, batch_size)


# ---- the test -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pinned():
    with np.load(DATA / "pinned.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", MODELS)
def test_stage2_probabilities_are_the_recorded_ones(name, pinned, tmp_path):
    model, meta = _load(name)
    windows, labels = pinned["windows"], pinned["labels"]
    prepared = _write_prepared(tmp_path / "data", windows, labels)
    runs = {"dataset": lambda bs: dataset_probs(model, meta, prepared, bs),
            "predict": lambda bs: predict_probs(model, meta, windows, bs)}
    if name == "chronos":  # the embedding cache: a first pass fills it, a second reads it back
        def cached(bs: int) -> np.ndarray:
            model.enable_cache(tmp_path / "cache")
            try:
                first = dataset_probs(model, meta, prepared, bs)
                again = dataset_probs(model, meta, prepared, bs)
            finally:
                model.cache = None
            assert np.array_equal(first, again)
            return again

        runs["cached"] = cached
    for path, run in runs.items():
        expected = pinned[f"{name}_{'dataset' if path == 'cached' else path}_bs1"]
        got = run(1)
        assert got.dtype == expected.dtype and got.shape == expected.shape == (len(windows), len(CLASSES))
        assert np.array_equal(got, expected), f"{name}/{path} at batch size 1: max |diff| " \
                                              f"{np.abs(got - expected).max():.3g}"
        expected4 = pinned[f"{name}_{'dataset' if path == 'cached' else path}_bs4"]
        got4 = run(4)
        assert np.abs(got4 - expected4).max() <= 1e-6, f"{name}/{path} at batch size 4"
        assert np.array_equal(got4.argmax(1), expected4.argmax(1))


def test_the_pinned_models_tell_the_windows_apart(pinned):
    """The recorded probabilities are not a constant: a refactor that broke the sensor path would show."""
    for name in MODELS:
        p = pinned[f"{name}_dataset_bs1"]
        assert p.std(0).max() > 1e-3, name
        assert not np.allclose(pinned[f"{name}_dataset_bs1"], pinned[f"{name}_predict_bs1"]), name


# ---- how the files were made (run once; kept for the record) ---------------------------------------------


def _config(name: str):
    from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig

    common = {"channels": CHANNELS, "labels": CLASSES, "llm": LLMConfig(name="tiny-random-llama", seed=0)}
    if name == "chronos":
        return SensorLLMConfig(**common, encoder=EncoderConfig(size="tiny", seed=0),
                               projector=ProjectorConfig(preset="custom", hidden=(64,), pool=4))
    return SensorLLMConfig(**common, encoder=EncoderConfig(kind="conv", size="tiny", seed=0, trainable=True,
                                                           patch_size=8),
                           projector=ProjectorConfig(preset="custom", hidden=(64,), normalize=True),
                           stage2_layout="text_first", head_input="last+channel_mean", head_standardize=True)


def _extra() -> dict:
    return {"stage": "stage2", "dataset": _spec(), "rate_hz": RATE, "window": LENGTH, "stride": LENGTH // 2,
            "preprocess_type": "smry+Q", "trend_mode": "exact", "stat_digits": 3, "text_seed": 7,
            "random_init_encoder": True}


def _record() -> None:  # pragma: no cover - run by hand
    import tempfile

    import torch

    from sensorllm.data import collate
    from sensorllm.model import build_sensor_llm, save_checkpoint

    torch.manual_seed(0)
    torch.set_num_threads(1)
    DATA.mkdir(parents=True, exist_ok=True)
    windows = _windows(0, 6)
    labels = np.array([0, 1, 2, 0, 1, 2], dtype=np.int64)
    train = _windows(1, 12)
    train_labels = np.arange(12) % 3
    texts = [f"Statistics {k}: mean {train[k].mean():.2f}" for k in range(12)]
    out: dict[str, np.ndarray] = {"windows": windows, "labels": labels}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = _write_prepared(Path(tmp) / "data", windows, labels)
        for name in MODELS:
            model = build_sensor_llm(_config(name))
            model.set_trainable(projector=True, head=True, token_rows=True)

            def batch(idx):
                exs = [model.prompts.stage2({c: train[k][:, j] for j, c in enumerate(CHANNELS)}, text=texts[k],
                                            label=int(train_labels[k])) for k in idx]
                return collate(model.prompts, exs)

            if model.config.head_standardize:
                model.eval()
                with torch.no_grad():
                    model.set_head_statistics(model.head_features(batch(range(12))))
            opt = torch.optim.AdamW(model.param_groups(), lr=3e-3)
            model.train()
            for step in range(6):
                idx = [(2 * step + j) % 12 for j in range(4)]
                loss = model(batch(idx), stage=2).loss
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            save_checkpoint(model, DATA / name, extra=_extra())
            model, meta = _load(name)
            for bs in (1, 4):
                out[f"{name}_dataset_bs{bs}"] = dataset_probs(model, meta, prepared, bs)
                out[f"{name}_predict_bs{bs}"] = predict_probs(model, meta, windows, bs)
    np.savez(DATA / "pinned.npz", **out)


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--record"]:
        _record()
    else:
        sys.exit("usage: python tests/test_pinned_probabilities.py --record")
