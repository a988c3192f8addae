"""Baselines: registry, net shapes, the feature extractor, and short training runs through the real CLI on a
tiny synthetic prepared dataset (3 classes told apart by sine frequency)."""

import csv
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sensorllm.baselines import get_baseline, list_baselines
from sensorllm.baselines.config import BaselineConfig, command_line, resolve_config
from sensorllm.baselines.features import feature_names, load_forest, window_features
from sensorllm.cli.main import build_parser, main
from sensorllm.infer.artifact import load_model

TORCH_NETS = ["deepconvlstm", "deepconvlstm-attn", "attend", "cnn1d"]
RATE = 20.0
FREQS = (1.0, 3.0, 6.0)  # Hz per class


def write_prepared(root: Path, counts=None, window=48, channels=3, seed=0) -> Path:
    """A prepared directory (layout of sensorllm.datasets.prepared) with sine windows: class k oscillates at
    FREQS[k] on every channel, random phase and amplitude, plus noise."""
    counts = counts or {"train": 120, "val": 24, "test": 30}
    rng = np.random.default_rng(seed)
    t = np.arange(window) / RATE
    chans = [dict(name=f"{a}_acc", description=f"{a}-axis accelerometer", sensor="acc", axis=a,
                  placement="wrist", unit="g", sensor_range=None) for a in "xyz"[:channels]]
    splits = {}
    for split, n in counts.items():
        d = root / "stage2" / split
        d.mkdir(parents=True)
        y = np.arange(n) % len(FREQS)
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, channels))
        amp = rng.uniform(0.5, 1.5, size=(n, 1, channels))
        f = np.asarray(FREQS)[y][:, None, None]
        w = amp * np.sin(2 * np.pi * f * t[None, :, None] + phase)
        w = w + 0.2 * rng.normal(size=(n, window, channels))
        np.save(d / "windows.npy", w.astype(np.float32))
        np.save(d / "labels.npy", y.astype(np.int64))
        np.save(d / "subjects.npy", np.asarray([f"{split}{i % 2}" for i in range(n)]))
        np.save(d / "starts.npy", np.arange(n, dtype=np.int64) * window)
        np.save(d / "recordings.npy", np.zeros(n, dtype=np.int64))
        splits[split] = {"windows": n}
    classes = [{"raw_id": i + 1, "name": f"f{f:g}Hz"} for i, f in enumerate(FREQS)]
    manifest = {"dataset": "sines", "rate_hz": RATE, "classes": [c["name"] for c in classes],
                "channels": [c["name"] for c in chans], "window": window,
                "spec": {"channels": chans, "classes": classes}, "splits": splits}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_prepared(tmp_path_factory.mktemp("sines"))


def test_registry_lists_and_refuses_unknown_names():
    assert set(list_baselines()) >= {*TORCH_NETS, "features-rf"}
    assert get_baseline("DeepConvLSTM_attn").name == "deepconvlstm-attn"
    with pytest.raises(KeyError, match="Known: attend, .*cnn1d"):
        get_baseline("resnet")
    with pytest.raises(ValueError, match="no model argument.*valid: .*dropout"):
        get_baseline("cnn1d").resolve_model_args({"dropuot": 0.1})


@pytest.mark.parametrize("name", TORCH_NETS)
@pytest.mark.parametrize("window,channels", [(32, 3), (64, 9)])
def test_net_forward_shapes(name, window, channels):
    torch.manual_seed(0)
    net = get_baseline(name).build(channels, window, 5)
    x = torch.randn(4, window, channels)
    z = net.forward_features(x)
    assert z.ndim == 2 and z.shape[0] == 4
    assert net(x).shape == (4, 5)
    net(x).sum().backward()  # every net is trainable end to end
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="expected windows of shape"):
        net(torch.randn(4, window, channels + 1))


def test_valid_convolutions_need_long_enough_windows():
    with pytest.raises(ValueError, match="too short.*padding='same'"):
        get_baseline("deepconvlstm").build(3, 16, 4)
    net = get_baseline("attend").build(3, 8, 4, padding="same")
    assert net(torch.randn(2, 8, 3)).shape == (2, 4)


def test_window_features_values_and_names():
    t = np.arange(40) / 20.0
    s = np.sin(2 * np.pi * 2 * t + 0.3)  # 2 Hz, 4 whole cycles, no sample exactly at a zero
    w = np.stack([s, 2 * s + 1], axis=1)[None]  # (1, 40, 2)
    f = window_features(w.astype(np.float32), 20.0)
    names = feature_names(2, 40, 20.0, channel_names=["a", "b"])
    assert f.shape == (1, len(names))
    col = dict(zip(names, f[0]))
    assert col["mean[b]"] == pytest.approx(1.0, abs=1e-5)
    assert col["max[a]"] == pytest.approx(s.max()) and col["p50[b]"] == pytest.approx(2 * np.median(s) + 1)
    assert col["energy[b]"] == pytest.approx(np.mean((2 * s + 1) ** 2), rel=1e-5)
    assert col["zcr[a]"] == pytest.approx(7 / 39)  # phase 0.3 → 8π+0.3: 7 crossings lie inside t < 1.95 s
    assert col["corr[a,b]"] == pytest.approx(1.0, abs=1e-5)
    bands = [n for n in names if n.startswith("logpow") and n.endswith("[a]")]
    assert bands[0] == "logpow_0-0.5Hz[a]" and bands[-1] == "logpow_6-10Hz[a]"
    assert max(bands, key=lambda n: col[n]) == "logpow_1.5-3Hz[a]"  # the 2 Hz tone


def test_config_defaults_overrides_and_command_round_trip(tmp_path):
    cfg = resolve_config("attend", "D", "O", epochs=3, model_args={"dropout": 0.2})
    assert cfg.mixup_alpha == 0.8 and cfg.center_loss == 0.003  # the baseline's own settings
    assert resolve_config("attend", "D", "O", mixup_alpha=0.0).mixup_alpha == 0.0  # explicit value wins
    assert cfg.model_args["dropout"] == 0.2 and cfg.model_args["hidden"] == 128
    args = build_parser().parse_args(shlex.split(command_line(cfg))[1:])
    again = resolve_config(args.name, args.data, args.out, epochs=args.epochs, mixup_alpha=args.mixup,
                           center_loss=args.center_loss, model_args=dict(args.model_arg))
    assert again == cfg
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        BaselineConfig("cnn1d", "D", "O", epochs=0)


def _run(prepared, out, name, *extra):
    argv = ["baseline", name, "--data", str(prepared), "--out", str(out), "--seed", "1", "--threads", "1",
            "--device", "cpu", *extra]
    assert main(argv) == 0
    return json.loads((out / "metrics.json").read_text())


FAST = ["--epochs", "2", "--batch-size", "8", "--lr", "3e-3"]


@pytest.mark.parametrize("name", TORCH_NETS)
def test_torch_baselines_train_and_beat_chance(prepared, tmp_path, name):
    out = tmp_path / name
    m = _run(prepared, out, name, *FAST)
    assert m["accuracy"] > 0.55 and m["n"] == 30  # chance is 1/3
    assert m["trainable_params"] > 0 and m["train_time_s"] > 0 and 1 <= m["best_epoch"] <= 2
    for f in ("config.json", "val_history.csv", "model.safetensors", "report.md", "confusion_matrix.png",
              "test_predictions.npy"):
        assert (out / f).exists(), f
    rows = list(csv.DictReader((out / "val_history.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[0]["val_f1_macro"]) >= 0
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 1 and config["dataset"]["name"] == "sines" and "--epochs 2" in config["command"]
    # the saved weights reproduce the reported predictions
    model = load_model(out)
    test = np.load(prepared / "stage2" / "test" / "windows.npy")
    with torch.no_grad():
        pred = model(torch.from_numpy(test)).argmax(1).numpy()
    np.testing.assert_array_equal(pred, np.load(out / "test_predictions.npy"))


def test_same_seed_same_metrics_and_early_stopping(prepared, tmp_path):
    args = [*FAST, "--epochs", "4", "--patience", "1", "--mixup", "0.4", "--center-loss", "0.01"]
    a = _run(prepared, tmp_path / "a", "cnn1d", *args)
    b = _run(prepared, tmp_path / "b", "cnn1d", *args)
    for k in ("f1_macro", "accuracy", "confusion_matrix", "best_epoch", "epochs_run", "val_f1_macro"):
        assert a[k] == b[k], k
    wa, wb = (load_file(str(tmp_path / r / "model.safetensors")) for r in "ab")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["epochs_run"] - a["best_epoch"] <= 1  # patience 1
    # a finished run is not overwritten silently
    assert main(["baseline", "cnn1d", "--data", str(prepared), "--out", str(tmp_path / "a")]) == 1


def test_features_rf_beats_chance_and_saves_a_pickle_free_forest(prepared, tmp_path):
    out = tmp_path / "rf"
    m = _run(prepared, out, "features-rf", "--model-arg", "n_estimators=25")
    assert m["accuracy"] > 0.8 and m["trainable_params"] is None and m["tree_nodes"] > 0
    assert m["val_f1_macro"] is not None
    forest = load_forest(out / "model.safetensors")
    test = np.load(prepared / "stage2" / "test" / "windows.npy")
    np.testing.assert_array_equal(forest.predict(test), np.load(out / "test_predictions.npy"))
    again = _run(prepared, tmp_path / "rf2", "features-rf", "--model-arg", "n_estimators=25")
    assert again["confusion_matrix"] == m["confusion_matrix"]


def test_missing_validation_split_needs_no_val(tmp_path, capsys):
    data = write_prepared(tmp_path / "noval", counts={"train": 30, "val": 0, "test": 12})
    argv = ["baseline", "cnn1d", "--data", str(data), "--out", str(tmp_path / "r"), "--epochs", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "model selection needs a validation split" in err and "--no-val" in err
    m = _run(data, tmp_path / "r2", "cnn1d", "--epochs", "2", "--no-val")
    assert m["epochs_run"] == 2 and m["val_f1_macro"] is None
    rows = list(csv.DictReader((tmp_path / "r2" / "val_history.csv").open()))
    assert len(rows) == 2 and rows[0]["val_f1_macro"] == ""


def test_unknown_baseline_is_a_clean_cli_error(prepared, tmp_path, capsys):
    assert main(["baseline", "nope", "--data", str(prepared), "--out", str(tmp_path / "x")]) == 1
    assert "Unknown baseline 'nope'. Known:" in capsys.readouterr().err
