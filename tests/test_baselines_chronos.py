"""Chronos feature baselines (``chronos-mlp``, ``chronos-ncm``) and their feature extractor, with the tiny
random-init Chronos-T5 encoder on small synthetic prepared datasets (sines of different frequencies)."""

import csv
import json

import numpy as np
import pytest
from test_baselines import write_prepared

from sensorllm.baselines import get_baseline, list_baselines
from sensorllm.baselines.chronos_features import ChronosWindowFeatures
from sensorllm.baselines.chronos_models import ChronosMLP, ChronosNCM
from sensorllm.baselines.config import command_line, resolve_config
from sensorllm.infer.artifact import load_model
from sensorllm.cli.main import main
from sensorllm.eval.classmeans import fit_class_means, predict_class_means
from sensorllm.model.encoder import EncoderConfig

SMALL = {"train": 48, "val": 18, "test": 18}  # 84 windows x 2 channels x 32 samples: ~1 s of encoding


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def featurizer():
    return ChronosWindowFeatures(EncoderConfig(size="tiny", seed=0), device="cpu", progress=False)


def _windows(n=6, length=32, channels=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, length, channels)).astype(np.float32)


def _shapes(y: np.ndarray, length: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Windows whose classes differ in the *set* of z-normalised values, which is what a random-init encoder
    can tell apart (each bin's embedding is an independent random vector, so value order means nothing to
    it): class 0 one spike on a flat line, class 1 Gaussian noise, class 2 a step halfway (values ±1)."""
    n = len(y)
    spikes = np.zeros((n, length, channels))
    rows, chans = np.repeat(np.arange(n), channels), np.tile(np.arange(channels), n)
    spikes[rows, rng.integers(0, length, size=n * channels), chans] = rng.uniform(1, 3, size=n * channels)
    noise = rng.normal(size=(n, length, channels))
    step = np.where(np.arange(length)[None, :, None] < length // 2, -1.0, 1.0)
    step = step * rng.uniform(0.5, 2, (n, 1, 1))
    w = np.select([y[:, None, None] == 0, y[:, None, None] == 1], [spikes, noise], step)
    return w.astype(np.float32)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared directory (layout of test_baselines.write_prepared) holding `_shapes` windows."""
    root = write_prepared(tmp_path_factory.mktemp("shapes"), counts=SMALL, window=32, channels=2)
    rng = np.random.default_rng(0)
    for split in SMALL:
        d = root / "stage2" / split
        np.save(d / "windows.npy", _shapes(np.load(d / "labels.npy"), 32, 2, rng))
    return root


def test_features_shape_determinism_and_channel_order(featurizer):
    w = _windows()
    f = featurizer(w)
    d = featurizer.d_model
    assert f.shape == (6, 2 * d) and f.dtype == np.float32 and np.isfinite(f).all()
    other = ChronosWindowFeatures(EncoderConfig(size="tiny", seed=0), device="cpu", progress=False)
    np.testing.assert_array_equal(other(w), f)  # same seed, same weights, same features
    swapped = other(np.ascontiguousarray(w[:, :, ::-1]))  # channel blocks follow the channel order
    np.testing.assert_allclose(swapped[:, :d], f[:, d:], atol=1e-5)
    np.testing.assert_allclose(swapped[:, d:], f[:, :d], atol=1e-5)
    # one window's features do not depend on the others in its chunk
    np.testing.assert_allclose(featurizer(w[2:3]), f[2:3], atol=1e-5)
    assert "no EOS" in featurizer.pooling and featurizer.is_random_init


def test_missing_samples_and_bad_windows(featurizer):
    w = _windows()
    w[1, :5, 0] = np.nan  # missing samples are left out of the mean, other windows are unaffected
    f = featurizer(w)
    assert np.isfinite(f).all()
    np.testing.assert_allclose(f[0], featurizer(_windows())[0], atol=1e-5)
    w[4, :, 1] = np.nan
    with pytest.raises(ValueError, match=r"window 4, channel 1 \('y'\) has no finite sample"):
        featurizer(w, channel_names=["x", "y"])
    with pytest.raises(ValueError, match=r"expected windows of shape \(N, T, C\)"):
        featurizer(np.zeros((3, 32), np.float32))


def test_cache_hit_gives_identical_features(tmp_path):
    w = _windows(n=5, seed=1)
    first = ChronosWindowFeatures(EncoderConfig(), cache_dir=tmp_path, device="cpu", progress=False)
    f = first(w)
    assert first.cache.misses == 10 and first.cache.hits == 0
    second = ChronosWindowFeatures(EncoderConfig(), cache_dir=tmp_path, device="cpu", progress=False)
    np.testing.assert_array_equal(second(w), f)
    assert second.cache.hits == 10 and second.cache.misses == 0
    # the pooling rule is part of the namespace: EOS-inclusive features live elsewhere and differ
    eos = ChronosWindowFeatures(EncoderConfig(), include_eos=True, cache_dir=tmp_path, device="cpu",
                                progress=False)
    assert eos.namespace != second.namespace
    assert not np.allclose(eos(w), f) and eos.cache.misses == 10


def test_class_mean_helpers():
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 0]])  # class 2 never appears in training
    y = np.array([0, 1] * 20)
    x = centres[y] + rng.normal(size=(40, 3))
    means = fit_class_means(x, y, num_classes=3)
    assert means.shape == (3, 3) and np.isnan(means[2]).all()
    np.testing.assert_allclose(np.linalg.norm(means[:2], axis=1), 1.0, rtol=1e-5)
    pred = predict_class_means(x, means)
    assert (pred == y).mean() > 0.95 and 2 not in pred
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        fit_class_means(x, np.where(y == 1, 2, 0), num_classes=2)
    with pytest.raises(ValueError, match="same D"):
        predict_class_means(x[:, :2], means)


def test_ncm_separates_two_clearly_different_classes():
    rng = np.random.default_rng(0)
    ytr, yte = np.arange(20) % 2, np.arange(20) % 2  # spikes against noise
    ncm = ChronosNCM(0, 20.0, device="cpu").fit(_shapes(ytr, 32, 2, rng), ytr)
    assert (ncm.predict(_shapes(yte, 32, 2, rng)) == yte).mean() >= 0.95


def test_registry_and_model_arg_errors(tmp_path, capsys):
    assert {"chronos-mlp", "chronos-ncm"} <= set(list_baselines())
    defaults = get_baseline("chronos-mlp").model_defaults()
    assert {"encoder_size", "encoder_seed", "pretrained", "cache_dir", "hidden", "epochs", "patience",
            "lr"} <= set(defaults)
    assert defaults["pretrained"] is None and defaults["encoder_size"] == "tiny"
    with pytest.raises(ValueError, match=r"encoder_size must be one of tiny, .*got 'huge'.*"
                                         r"hidden must be an integer >= 1, got 0.*lr must be a number > 0"):
        resolve_config("chronos-mlp", "D", "O", model_args={"encoder_size": "huge", "hidden": 0, "lr": "x"})
    with pytest.raises(ValueError, match="no model argument.*hiden.*valid: .*hidden"):
        resolve_config("chronos-mlp", "D", "O", model_args={"hiden": 8})
    with pytest.raises(ValueError, match="tokenizer must be null, std_uniform or mean_scale, got 'zscore'"):
        resolve_config("chronos-ncm", "D", "O", model_args={"tokenizer": "zscore"})
    with pytest.raises(ValueError, match=r"encoder must be one of chronos, chronos-bolt, got 'raw-patch'"):
        resolve_config("chronos-mlp", "D", "O", model_args={"encoder": "raw-patch"})
    with pytest.raises(ValueError, match=r"encoder_size must be one of tiny, mini, small, base for chronos-bolt, "
                                         r"got 'large'.*tokenizer must be null with encoder=chronos-bolt"):
        resolve_config("chronos-ncm", "D", "O", model_args={"encoder": "chronos-bolt", "encoder_size": "large",
                                                            "tokenizer": "mean_scale"})
    mean_scale = ChronosNCM(0, 20.0, device="cpu", tokenizer="mean_scale")
    assert mean_scale.encoder_config.tokenizer.kind == "mean_scale"
    assert ChronosNCM(0, 20.0, device="cpu").encoder_config.tokenizer is None  # the encoder's default
    # another tokeniser is another cache namespace: features of the two never mix
    assert mean_scale.featurizer.encoder.identity() != ChronosNCM(0, 20.0, device="cpu").featurizer.encoder.identity()
    # through the CLI: one clear line, before any data is read (the data directory does not exist)
    argv = ["baseline", "chronos-ncm", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"),
            "--model-arg", "standardize=maybe"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "chronos-ncm" in err and "standardize must be true or false, got 'maybe'" in err


def _run(prepared, out, name, *extra):
    argv = ["baseline", name, "--data", str(prepared), "--out", str(out), "--seed", "1", "--threads", "1",
            "--model-arg", "device=cpu", *extra]
    assert main(argv) == 0
    return json.loads((out / "metrics.json").read_text())


def test_chronos_mlp_and_ncm_end_to_end(prepared, tmp_path):
    cache = tmp_path / "cache"
    out = tmp_path / "mlp"
    m = _run(prepared, out, "chronos-mlp", "--model-arg", "epochs=6", "--model-arg", "patience=3",
             "--model-arg", "hidden=32", "--model-arg", "batch_size=8", "--model-arg", f"cache_dir={cache}")
    assert m["n"] == SMALL["test"] and m["accuracy"] > 0.8  # chance is 1/3
    assert m["encoder_random_init"] is True and m["encoder"] == "random:tiny:seed0"
    assert m["feature_dim"] == 2 * 256 and m["trainable_params"] == 512 * 32 + 32 + 32 * 3 + 3
    assert 1 <= m["best_epoch"] <= m["epochs_run"] <= 6 and m["val_f1_macro"] is not None
    assert m["cache_misses"] == 2 * (SMALL["train"] + SMALL["val"])  # counted while fitting (test: after)
    for f in ("config.json", "model.safetensors", "report.md", "test_predictions.npy"):
        assert (out / f).exists(), f
    rows = list(csv.DictReader((out / "val_history.csv").open()))
    assert len(rows) == m["epochs_run"] and rows[0]["val_f1_macro"] != ""
    assert "random-init" in (out / "report.md").read_text()
    config = json.loads((out / "config.json").read_text())
    assert "--model-arg hidden=32" in config["command"] and "--threads 1" in config["command"]
    assert config["model_args"]["cache_dir"] == str(cache)
    # the saved model (safetensors + JSON, no pickle) reproduces the reported predictions
    model = load_model(out)
    assert isinstance(model, ChronosMLP)
    test = np.load(prepared / "stage2" / "test" / "windows.npy")
    np.testing.assert_array_equal(model.predict(test), np.load(out / "test_predictions.npy"))

    # the nearest-class-mean baseline reads every feature back from the same cache
    ncm = _run(prepared, tmp_path / "ncm", "chronos-ncm", "--model-arg", f"cache_dir={cache}")
    assert ncm["cache_misses"] == 0 and ncm["cache_hits"] >= 2 * SMALL["train"]
    assert ncm["accuracy"] > 0.8 and ncm["trainable_params"] == 0
    loaded = load_model(tmp_path / "ncm")
    assert isinstance(loaded, ChronosNCM)
    np.testing.assert_array_equal(loaded.predict(test), np.load(tmp_path / "ncm" / "test_predictions.npy"))


def test_chronos_mlp_needs_validation_unless_no_val(tmp_path, capsys):
    counts = {"train": 12, "val": 0, "test": 6}
    data = write_prepared(tmp_path / "noval", counts=counts, window=24, channels=1)
    argv = ["baseline", "chronos-mlp", "--data", str(data), "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    assert "--no-val" in capsys.readouterr().err
    m = _run(data, tmp_path / "r2", "chronos-mlp", "--no-val", "--model-arg", "epochs=2",
             "--model-arg", "hidden=8")
    assert m["epochs_run"] == 2 and m["best_epoch"] == 2 and m.get("val_f1_macro") is None
    cfg = resolve_config("chronos-mlp", "D", "O", no_val=True, model_args={"epochs": 2})
    assert "--no-val" in command_line(cfg)


def test_load_refuses_a_different_encoder(prepared, tmp_path):
    x = np.load(prepared / "stage2" / "train" / "windows.npy")[:12]
    y = np.load(prepared / "stage2" / "train" / "labels.npy")[:12]
    path = tmp_path / "ncm.safetensors"
    ChronosNCM(0, 20.0, device="cpu").fit(x, y).save(path)
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
    meta["settings"] = json.dumps({**json.loads(meta["settings"]), "encoder_seed": 1})
    save_file(load_file(str(path)), str(tmp_path / "other.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="fingerprint"):
        ChronosNCM.load(tmp_path / "other.safetensors", device="cpu")
    with pytest.raises(ValueError, match="not a chronos-mlp model"):
        ChronosMLP.load(path, device="cpu")


def test_chronos_bolt_features_end_to_end(prepared, tmp_path):
    """``encoder=chronos-bolt``: one token per 16-sample patch, mean-pooled; the saved model rebuilds Bolt."""
    out = tmp_path / "bolt"
    m = _run(prepared, out, "chronos-ncm", "--model-arg", "encoder=chronos-bolt")
    assert m["encoder_random_init"] is True and m["feature_dim"] == 2 * 256
    assert "bolt" in m["encoder"].lower()
    assert m["accuracy"] > 0.5  # chance is 1/3
    loaded = load_model(out)
    assert loaded.encoder_config.kind == "chronos-bolt"
    test = np.load(prepared / "stage2" / "test" / "windows.npy")
    np.testing.assert_array_equal(loaded.predict(test), np.load(out / "test_predictions.npy"))
