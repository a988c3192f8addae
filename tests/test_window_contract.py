"""The window contract: in Stage 2 the encoder receives one ``(B, C, L)`` float32 tensor per batch, from the
windows of a prepared split or of a recording, and ``predict`` on a CSV reaches the model through the item
builder alone (``serve`` → ``infer`` → ``data`` → ``model``; the texts come from ``sensorllm.text``, called by the
item builder; nothing of ``sensorllm.eval`` runs)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch

from test_pinned_probabilities import CHANNELS, CLASSES, RATE, _load, _windows, _write_prepared

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def spy(monkeypatch):
    """The model's encoder, recording what each call receives (windows, ragged series, per-series values)."""
    def watch(model):
        calls: dict[str, list] = {"windows": [], "ragged": [], "values": []}
        enc = model.encoder
        windows, ragged, values = enc.encode_windows, enc.encode, enc.encode_values

        def on_windows(x):
            calls["windows"].append((tuple(x.shape), x.dtype))
            return windows(x)

        def on_ragged(series):
            calls["ragged"].append(len(series))
            return ragged(series)

        def on_values(x):
            calls["values"].append((tuple(x.shape), x.dtype))
            return values(x)

        monkeypatch.setattr(enc, "encode_windows", on_windows)
        monkeypatch.setattr(enc, "encode", on_ragged)
        monkeypatch.setattr(enc, "encode_values", on_values)
        return calls

    return watch


def test_stage2_encoder_reads_one_float32_window_tensor_per_batch(spy, tmp_path):
    from sensorllm.data import TextSettings, stage2_items
    from sensorllm.datasets import open_prepared
    from sensorllm.infer.stage2 import predict_proba

    model, meta = _load("conv")
    windows = _windows(3, 7)  # (7, 32, 3)
    prepared = _write_prepared(tmp_path / "data", windows, np.arange(7) % 3)
    items = stage2_items(open_prepared(prepared), "test", TextSettings.of_checkpoint(meta["extra"], True),
                         channels=model.channels)
    assert items.series.shape == (7, 3, 32) and items.series.dtype == np.float32
    assert np.array_equal(items.series, windows.transpose(0, 2, 1))  # read once, values as stored
    calls = spy(model)
    probs, _ = predict_proba(model, items, batch_size=3)
    assert probs.shape == (7, len(CLASSES))
    assert calls["windows"] == [((3, 3, 32), torch.float32), ((3, 3, 32), torch.float32), ((1, 3, 32), torch.float32)]
    assert calls["ragged"] == []  # no regrouping by length
    assert calls["values"] == [((9, 32), torch.float32), ((9, 32), torch.float32), ((3, 32), torch.float32)]


def test_stage2_batch_carries_windows_with_channel_names(tmp_path):
    from sensorllm.data import TextSettings, collate_items, window_items
    from sensorllm.datasets.spec import ChannelSpec

    model, meta = _load("chronos")
    specs = [ChannelSpec(**c) for c in meta["extra"]["dataset"]["channels"]][::-1]  # the windows' own order
    windows = _windows(4, 2)[:, :, ::-1]
    items = window_items(windows, specs, RATE, TextSettings.of_checkpoint(meta["extra"], True), indices=[5, 9],
                         model_channels=model.channels)
    batch = collate_items(model.prompts, items)
    assert batch.is_windows and batch.channels == CHANNELS
    assert batch.series.dtype == torch.float32 and tuple(batch.series.shape) == (2, 3, 32)
    assert torch.equal(batch.series, torch.from_numpy(np.ascontiguousarray(windows[:, :, ::-1].transpose(0, 2, 1))))
    assert list(items.indices) == [5, 9] and batch.class_labels is None


def test_predict_from_a_csv_goes_through_the_item_builder_only(spy, tmp_path):
    from sensorllm.infer.sensorllm import SensorLLMClassifier
    from sensorllm.serve.predict import predict_input
    from sensorllm.serve.recording import read_input

    model, meta = _load("chronos")
    x = _windows(5, 3).reshape(-1, 3)  # one recording of 96 samples
    path = tmp_path / "rec.csv"
    pd.DataFrame({c: x[:, j] for j, c in enumerate(CHANNELS)}).to_csv(path, index=False)
    clf = SensorLLMClassifier(model, meta)
    inp = read_input(path, clf.info.channel_names, clf.info.class_names)
    calls = spy(model)
    entered: list[tuple[str, str]] = []  # (module of the caller, module called) for calls into eval and text

    def profile(frame, event, arg):
        if event != "call":
            return
        called = frame.f_globals.get("__name__", "")
        if called.startswith(("sensorllm.eval", "sensorllm.text")):
            caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
            entered.append((caller, called))

    sys.setprofile(profile)
    try:
        pred = predict_input(clf, inp, batch_size=2)
    finally:
        sys.setprofile(None)
    assert len(pred.frame) == 5  # windows of 32 samples, stride 16
    assert calls["windows"] == [((2, 3, 32), torch.float32)] * 2 + [((1, 3, 32), torch.float32)]
    assert not [c for c in entered if c[1].startswith("sensorllm.eval")], entered
    from_outside = {caller for caller, called in entered if not caller.startswith("sensorllm.text")}
    assert from_outside == {"sensorllm.data.items"}, from_outside

