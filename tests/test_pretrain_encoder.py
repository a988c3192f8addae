"""``sensorllm pretrain-encoder``: runs on a tiny fake prepared dataset, learns a predictable signal, resumes
exactly, writes atomic checkpoints, and its output loads with Chronos and as a SensorLLM encoder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sensorllm.model import EncoderConfig, TokenizerConfig, build_encoder
from sensorllm.model.encoder_chronos import TokenizerMismatchError
from sensorllm.pretrain import PretrainEncoderConfig, run_pretrain
from sensorllm.train.config import ConfigError, load_config

WINDOW = 40


def write_prepared(root: Path, n: dict[str, int], noise: float, seed: int = 0) -> Path:
    """A prepared directory (Stage-2 layout only): 2 channels of sines with a fixed period of 8 samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW)
    chans = [dict(name=f"{a}_acc", description=f"{a}-axis", sensor="acc", axis=a, placement="wrist", unit="g",
                  sensor_range=None) for a in "xy"]
    for split, count in n.items():
        d = root / "stage2" / split
        d.mkdir(parents=True)
        phase = rng.uniform(0, 2 * np.pi, size=(count, 1, 2))
        w = 1.0 + np.sin(2 * np.pi * t[None, :, None] / 8 + phase)
        w = w + noise * rng.normal(size=(count, WINDOW, 2))
        np.save(d / "windows.npy", w.astype(np.float32))
        np.save(d / "labels.npy", np.zeros(count, dtype=np.int64))
        np.save(d / "subjects.npy", np.asarray([f"s{i}" for i in range(count)]))
        np.save(d / "starts.npy", np.arange(count, dtype=np.int64) * WINDOW)
        np.save(d / "recordings.npy", np.zeros(count, dtype=np.int64))
    manifest = {"dataset": "sines", "rate_hz": 50, "channels": [c["name"] for c in chans], "window": WINDOW,
                "classes": ["a"], "spec": {"channels": chans, "classes": [{"raw_id": 1, "name": "a"}]},
                "splits": {s: {"windows": c} for s, c in n.items()}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(prepared: Path, out: Path, *overrides: str) -> PretrainEncoderConfig:
    base = [f"data.prepared={prepared}", f"run.out_dir={out}", "model.n_tokens=128",
            "model.prediction_length=8", "optim.batch_size=8", "optim.max_steps=6", "run.save_every=2",
            "run.eval_every=3", "run.log_every=2"]
    return load_config(PretrainEncoderConfig, None, base + list(overrides))


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    prepared = write_prepared(root / "data", {"train": 12, "val": 4}, noise=0.1)
    summary = run_pretrain(_cfg(prepared, root / "a"))
    return prepared, root / "a", summary


def test_runs_validates_and_checkpoints_atomically(run_a):
    _, out, summary = run_a
    assert summary["steps"] == 6 and summary["train_series"] == 24 and summary["val_series"] == 8
    assert [s for s, _ in summary["val_curve"]] == [0, 3, 6]
    assert summary["context_length"] == WINDOW - 8 and summary["resumed_from"] is None
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["latest", "step-000004", "step-000006"]  # keep 2, no temp dirs left behind
    assert (out / "checkpoints" / "latest").read_text() == "step-000006"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not any(p.suffix in {".bin", ".pt", ".pkl"} for p in files)  # safetensors + JSON only
    cfg = json.loads((out / "model" / "config.json").read_text())
    assert cfg["sensorllm_tokenizer"]["kind"] == "mean_scale"
    assert cfg["chronos_config"]["prediction_length"] == 8
    assert cfg["sensorllm_pretrain"]["step"] == summary["best_step"]


def test_output_loads_in_chronos_and_as_a_sensorllm_encoder(run_a):
    from chronos import ChronosPipeline

    _, out, _ = run_a
    pipe = ChronosPipeline.from_pretrained(out / "model")
    fc = pipe.predict(torch.sin(torch.arange(32.0)), prediction_length=4, num_samples=2)
    assert fc.shape == (1, 2, 4) and torch.isfinite(fc).all()
    enc = build_encoder(EncoderConfig(kind="chronos", pretrained=str(out / "model")))
    # the recorded tokenizer, not the default std_uniform
    assert enc.tokenizer.config == TokenizerConfig(kind="mean_scale", n_tokens=128)
    assert not enc.is_random_init and enc.num_tokens(32) == 33
    x = torch.randn(32)
    ids, mask = enc.tokenizer(x[None])
    ref_ids, ref_mask, _ = pipe.tokenizer.context_input_transform(x[None])
    assert torch.equal(ids, ref_ids) and torch.equal(mask, ref_mask)
    with torch.no_grad():
        ref = pipe.model.model.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state[0]
    torch.testing.assert_close(enc.encode([x])[0], ref)
    with pytest.raises(TokenizerMismatchError, match="trained 'mean_scale', configured 'std_uniform'"):
        build_encoder(EncoderConfig(pretrained=str(out / "model"), tokenizer=TokenizerConfig(n_tokens=128)))


def test_resume_continues_from_the_saved_step_exactly(run_a, tmp_path):
    prepared, out_a, _ = run_a
    out_b = tmp_path / "b"
    shutil.copytree(out_a, out_b)
    shutil.rmtree(out_b / "checkpoints" / "step-000006")  # as if stopped after the step-4 checkpoint
    before = json.loads((out_b / "checkpoints" / "step-000004" / "trainer_state.json").read_text())["train_time_s"]
    summary = run_pretrain(_cfg(prepared, out_b))
    assert summary["resumed_from"] == 4 and summary["steps"] == 6
    assert summary["train_time_s"] > before > 0  # the clock carries on from the checkpoint
    a = load_file(out_a / "checkpoints" / "step-000006" / "model" / "model.safetensors")
    b = load_file(out_b / "checkpoints" / "step-000006" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    again = run_pretrain(_cfg(prepared, out_b))  # a finished run does not train again
    assert again["resumed_from"] == 6 and again["steps"] == 6
    with pytest.raises(ValueError, match="use another run.out_dir or run.resume=false"):
        run_pretrain(_cfg(prepared, out_b, "model.prediction_length=4"))


def test_a_corrupt_checkpoint_is_skipped(run_a, tmp_path):
    prepared, out_a, _ = run_a
    out_c = tmp_path / "c"
    shutil.copytree(out_a, out_c)
    (out_c / "checkpoints" / "step-000006" / "optimizer.safetensors").write_bytes(b"half-written")
    with pytest.warns(UserWarning, match="skipping checkpoint"):
        summary = run_pretrain(_cfg(prepared, out_c))
    assert summary["resumed_from"] == 4


def test_loss_goes_down_on_a_predictable_signal_via_the_cli(tmp_path):
    from sensorllm.cli.main import main

    prepared = write_prepared(tmp_path / "data", {"train": 16, "val": 4}, noise=0.0, seed=1)
    yaml = tmp_path / "c.yaml"
    yaml.write_text(f"data:\n  prepared: {prepared}\nmodel:\n  n_tokens: 128\n  prediction_length: 8\n"
                    "optim:\n  lr: 1.0e-2\n  batch_size: 8\n  max_steps: 20\n  warmup_ratio: 0.0\n"
                    "  schedule: constant\n"
                    f"run:\n  out_dir: {tmp_path / 'out'}\n  eval_every: 20\n  save_every: 20\n")
    assert main(["pretrain-encoder", "--config", str(yaml)]) == 0
    curve = json.loads((tmp_path / "out" / "pretrain_summary.json").read_text())["val_curve"]
    (s0, first), (s1, last) = curve
    assert (s0, s1) == (0, 20) and last < 0.9 * first, curve  # measured: 4.85 -> 3.76 nats/token


def test_config_errors_are_collected_and_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(PretrainEncoderConfig, None, ["model.size=huge", "optim.lr=fast", "data.nope=1"])
    msg = str(err.value)
    assert "model.size='huge'" in msg and "optim.lr: expected float" in msg and "unknown key data.nope" in msg
    prepared = write_prepared(tmp_path / "data", {"train": 4}, noise=0.1)
    with pytest.raises(ValueError, match=r"unknown channel\(s\) \['z_acc'\]"):
        run_pretrain(_cfg(prepared, tmp_path / "o1", "data.channels=[z_acc]"))
    with pytest.raises(ValueError, match="context \\+ prediction needs 48"):
        run_pretrain(_cfg(prepared, tmp_path / "o2", "model.context_length=40"))


def test_shipped_config_loads():
    root = Path(__file__).resolve().parents[1] / "configs" / "here" / "uci-har"
    cfg = load_config(PretrainEncoderConfig, root / "pretrain-encoder.yaml")
    assert cfg.data.prepared == "runs/uci-har/data" and cfg.model.size == "tiny" and cfg.run.threads == 1
