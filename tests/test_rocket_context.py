"""The ``rocket`` encoder's context from the data when ``encoder.context_length`` is unset: Stage 1 fits it for
the longest Stage-1 window, Stage 2 for the prepared windows, a Stage 2 that starts from a Stage-1 model keeps
that model's; the value is printed, saved in the run's config and the checkpoint, and rebuilt by ``evaluate``.
Other kinds and values set by hand are left alone. Tiny random models on a small generic dataset."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from sensorllm.cli.main import main
from sensorllm.model import load_checkpoint, read_checkpoint_config
from sensorllm.train.align import run_align
from sensorllm.train.common import resolve_encoder_context
from sensorllm.train.config import ConfigError, Stage1Config, Stage2Config, load_config
from sensorllm.train.tune import run_tune

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny"
ROCKET = ["encoder.kind=rocket", "encoder.trainable=false", "encoder.tokenizer=null", "projector.pool=1"]
WINDOW, STAGE1_TOP = 40, 60


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """Three classes of 160 samples per subject at 20 Hz; Stage-2 windows of 40, Stage-1 windows of 5–60."""
    root = tmp_path_factory.mktemp("rocket-ctx")
    rng = np.random.default_rng(0)
    (root / "raw").mkdir()
    for k in range(1, 7):
        parts = []
        for label, f in {"sitting": 0.0, "walking": 1.5, "running": 4.0}.items():
            t = np.arange(160) / 20
            s = np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
            parts.append(pd.DataFrame({"subject": f"s{k}", "label": label,
                                       **{f"{a}_acc": 0.5 * s + 0.05 * rng.normal(size=t.size) for a in "xyz"}}))
        pd.concat(parts).to_csv(root / "raw" / f"s{k}.csv", index=False)
    spec = {"name": "ctx-study", "rate_hz": 20, "window": WINDOW, "stride": 20, "stage1_window": [5, STAGE1_TOP],
            "channels": [{"name": f"{a}_acc", "sensor": "acc", "axis": a, "placement": "wrist", "unit": "g"}
                         for a in "xyz"],
            "classes": ["sitting", "walking", "running"], "test_subjects": ["s6"], "val_subjects": ["s5"]}
    (root / "spec.yaml").write_text(json.dumps(spec))
    assert main(["prepare", "generic", "--spec", str(root / "spec.yaml"), "--raw", str(root / "raw"),
                 "--out", str(root / "data"), "-q"]) == 0
    return root


def _cfg(cls, study: Path, out: str, *more: str):
    stage = "stage1.yaml" if cls is Stage1Config else "stage2.yaml"
    extra = ["eval_generate=0"] if cls is Stage1Config else []
    return load_config(cls, TINY / stage, [f"data.prepared={study / 'data'}", f"run.out_dir={study / out}",
                                           "optim.max_steps=2", "run.eval_every=2", "run.save_every=2",
                                           *extra, *ROCKET, *more])


def _saved_context(run: Path) -> tuple[int | None, int | None, int]:
    """The context in the run's config.yaml, in its model's config.json, and of the model evaluate rebuilds."""
    in_yaml = yaml.safe_load((run / "config.yaml").read_text())["encoder"]["context_length"]
    in_ckpt = read_checkpoint_config(run / "model")["config"]["encoder"]["context_length"]
    return in_yaml, in_ckpt, load_checkpoint(run / "model").encoder.context_length


def test_each_stage_fits_rocket_for_its_data_and_stage2_keeps_the_stage1_fit(study, capsys):
    run_align(_cfg(Stage1Config, study, "s1"))
    out = capsys.readouterr().out
    assert f"encoder.context_length: {STAGE1_TOP}, the longest Stage-1 window (lengths 5–{STAGE1_TOP})" in out
    assert f"rocket:ctx{STAGE1_TOP}:seed0" in out  # the encoder line shows what was built
    assert _saved_context(study / "s1") == (STAGE1_TOP, STAGE1_TOP, STAGE1_TOP)

    run_tune(_cfg(Stage2Config, study, "s2-scratch", "init_from=null", "optim.warmup_steps_min=2"))
    out = capsys.readouterr().out
    assert f"encoder.context_length: {WINDOW}, the length of the prepared Stage-2 windows" in out
    assert "warm-up 2 steps" in out  # the start line says the warm-up
    assert _saved_context(study / "s2-scratch") == (WINDOW, WINDOW, WINDOW)

    s1 = study / "s1" / "model"
    run_tune(_cfg(Stage2Config, study, "s2", f"init_from={s1}"))
    out = capsys.readouterr().out
    assert f"encoder.context_length: {STAGE1_TOP}, kept from the Stage-1 model {s1}" in out
    assert "initialised from Stage 1" in out and "encoder" in out.split("initialised from Stage 1")[1].split("\n")[0]
    assert _saved_context(study / "s2") == (STAGE1_TOP, STAGE1_TOP, STAGE1_TOP)
    import torch

    s1_model, s2_model = load_checkpoint(s1), load_checkpoint(study / "s2" / "model")
    assert torch.equal(s1_model.encoder.biases, s2_model.encoder.biases)  # the fit itself, not a refit
    assert torch.equal(s1_model.encoder.feature_mean, s2_model.encoder.feature_mean)
    run = json.loads((study / "s2" / "model" / "config.json").read_text())["extra"]["run_config"]
    assert run["encoder"]["context_length"] == STAGE1_TOP
    assert main(["evaluate", "--model", str(study / "s2"), "--data", str(study / "data"), "--limit", "4"]) == 0

    # set by hand: the same value is accepted, another one refused with the fix
    run_tune(_cfg(Stage2Config, study, "s2-same", f"init_from={s1}", f"encoder.context_length={STAGE1_TOP}"))
    assert "encoder.context_length:" not in capsys.readouterr().out  # nothing was chosen
    with pytest.raises(ConfigError, match=f"fitted its 'rocket' encoder for series of {STAGE1_TOP} samples .* "
                                          f"set encoder.context_length={STAGE1_TOP} or leave it null"):
        run_tune(_cfg(Stage2Config, study, "s2-other", f"init_from={s1}", "encoder.context_length=50"))
    # windows longer than the series the Stage-1 fit was made for: refused before anything is built
    cfg = load_config(Stage2Config, None, [*ROCKET, f"init_from={s1}"])
    with pytest.raises(ConfigError, match=f"windows of 80 samples, but the Stage-1 model .* up to {STAGE1_TOP}"):
        resolve_encoder_context(cfg, _data(window=80))


def _data(window: int = 128, stage1=(5, 200)) -> SimpleNamespace:
    return SimpleNamespace(root=Path("d"), manifest={"window": window, "stage1_window": list(stage1)})


def test_resolution_leaves_other_kinds_and_set_values_alone_and_is_idempotent():
    data = _data()
    s1 = load_config(Stage1Config, None, ROCKET)
    s2 = load_config(Stage2Config, None, [*ROCKET, "init_from=null"])
    r1, note1 = resolve_encoder_context(s1, data)
    r2, note2 = resolve_encoder_context(s2, data)
    assert (r1.model.encoder.context_length, r2.model.encoder.context_length) == (200, 128)
    assert "200" in note1 and "128" in note2
    assert type(r2.model) is type(s2.model) and r2.model.head_input == s2.model.head_input  # the rest untouched
    assert resolve_encoder_context(r1, data) == (r1, None)  # already set: nothing to choose
    assert s1.model.encoder.context_length is None  # the input config is not changed
    for cfg in (load_config(Stage1Config), load_config(Stage2Config, None, ["init_from=null"]),
                load_config(Stage2Config, None, ["init_from=null", "encoder.kind=conv", "encoder.tokenizer=null",
                                                 "encoder.trainable=true"])):
        assert resolve_encoder_context(cfg, data) == (cfg, None)  # chronos, conv: context stays unset
    set_by_hand = load_config(Stage2Config, None, [*ROCKET, "init_from=null", "encoder.context_length=64"])
    assert resolve_encoder_context(set_by_hand, data) == (set_by_hand, None)



def test_stage2_from_an_older_or_other_stage1_model(monkeypatch):
    """A Stage-1 model saved with the context unset was built with the encoder's default, which Stage 2 then
    keeps by leaving it unset too; a Stage-1 model of another kind has no fit to keep."""
    import sensorllm.train.common as common
    from sensorllm.model import EncoderConfig

    saved = {}
    monkeypatch.setattr(common, "checkpoint_encoder_config", lambda path: EncoderConfig.from_json(saved["enc"]))
    cfg = load_config(Stage2Config, None, [*ROCKET, "init_from=s1/model"])
    saved["enc"] = EncoderConfig(kind="rocket").to_json()
    got, note = resolve_encoder_context(cfg, _data(window=128))
    assert got.model.encoder.context_length is None and "null (the encoder's default), kept from" in note
    saved["enc"] = EncoderConfig(kind="chronos").to_json()
    got, note = resolve_encoder_context(cfg, _data(window=128))
    assert got.model.encoder.context_length == 128 and "prepared Stage-2 windows" in note
