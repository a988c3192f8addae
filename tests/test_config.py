import pytest

from sensorllm.train.config import (ConfigError, Stage1Config, Stage2Config, config_to_dict, config_to_yaml,
                                    load_config)


def test_defaults_are_the_paper_setup():
    cfg = load_config(Stage2Config)
    assert cfg.optim.lr == 2e-3 and cfg.optim.schedule == "cosine" and cfg.optim.weight_decay == 0.0
    assert cfg.optim.batch_size * cfg.optim.grad_accum == 32  # per device; the paper uses 2 GPUs → 64
    assert cfg.model.projector.hidden_sizes == (2048,) and cfg.data.preprocess_type == "smry+Q"


def test_yaml_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lr: 0.001\n  epochs: 2\nprojector:\n  pool: 8\n  preset: custom\nllm:\n  lora: {r: 4}\n")
    cfg = load_config(Stage1Config, p, ["optim.lr=5e-4", "run.seed=3", "projector.hidden=[64, 32]"])
    assert cfg.optim.lr == 5e-4 and cfg.optim.epochs == 2.0 and cfg.run.seed == 3
    assert cfg.model.projector.pool == 8 and cfg.model.projector.hidden_sizes == (64, 32)
    assert cfg.model.llm.lora is not None and cfg.model.llm.lora.r == 4 and cfg.model.llm.lora.alpha == 16
    again = tmp_path / "again.yaml"
    again.write_text(config_to_yaml(cfg))
    assert load_config(Stage1Config, again) == cfg


def test_errors_are_collected_with_valid_choices(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lrr: 1\n  schedule: stepwise\nrun:\n  seed: one\n")
    with pytest.raises(ConfigError) as e:
        load_config(Stage2Config, p)
    msg = str(e.value)
    assert "unknown key optim.lrr" in msg and "valid keys here: lr," in msg
    assert "optim.schedule='stepwise'; valid: 'cosine', 'linear', 'constant'" in msg
    assert "run.seed: expected int, got 'one'" in msg
    with pytest.raises(ConfigError, match=r"preprocess_type=.smry\+X."):
        load_config(Stage2Config, None, ["data.preprocess_type=smry+X"])
    with pytest.raises(ConfigError, match="projector: Unknown projector preset 'huge'"):
        load_config(Stage2Config, None, ["projector.preset=huge"])
    with pytest.raises(ConfigError, match="not key=value"):
        load_config(Stage2Config, None, ["optim.lr"])


def test_yaml_booleans_that_spell_a_choice(tmp_path):
    # YAML 1.1 reads `no` as False; `run.mixed_precision=no` (an accepted choice) must still mean "no"
    cfg = load_config(Stage2Config, None, ["run.mixed_precision=bf16", "run.mixed_precision=no"])
    assert cfg.run.mixed_precision == "no"
    p = tmp_path / "c.yaml"
    p.write_text("run:\n  mixed_precision: no\n")
    assert load_config(Stage2Config, p).run.mixed_precision == "no"
    with pytest.raises(ConfigError, match="optim.schedule=True"):  # no choice spells a boolean here
        load_config(Stage2Config, None, ["optim.schedule=yes"])


def test_stage_configs_nest_the_model_settings_under_flat_keys(tmp_path):
    """The model settings live once, in sensorllm.model.sensorllm_config, and a stage config nests them
    (``cfg.model``); users still write their keys at the top level, and the saved config keeps them there."""
    import dataclasses

    from sensorllm.model.sensorllm_config import ModelSettings, SensorLLMConfig, Stage2ModelSettings

    p = tmp_path / "c.yaml"
    p.write_text("encoder:\n  kind: conv\n  trainable: true\nhead_input: last+channel_mean\nmax_length: 512\n"
                 "optim:\n  encoder_lr: 1.0e-4\n")
    cfg = load_config(Stage2Config, p, ["stage2_layout=text_first", "projector.pool=2"])
    assert type(cfg.model) is Stage2ModelSettings and cfg.model.encoder.kind == "conv"
    assert cfg.model.head_input == "last+channel_mean" and cfg.model.stage2_layout == "text_first"
    assert cfg.model.max_length == 512 and cfg.model.projector.pool == 2
    flat = config_to_dict(cfg)
    assert "model" not in flat and flat["head_input"] == "last+channel_mean" and flat["encoder"]["kind"] == "conv"
    assert {"data", "llm", "encoder", "projector", "optim", "run", "init_from", "head_stats_windows"} <= set(flat)
    again = tmp_path / "again.yaml"
    again.write_text(config_to_yaml(cfg))
    assert load_config(Stage2Config, again) == cfg
    # the model config is the stage's settings plus the data's channels and classes, field by field
    built = cfg.model.for_data(("x", "y"), ("a", "b"))
    assert isinstance(built, SensorLLMConfig) and built.channels == ("x", "y") and built.labels == ("a", "b")
    for f in dataclasses.fields(Stage2ModelSettings):
        assert getattr(built, f.name) == getattr(cfg.model, f.name), f.name
    # Stage 1 holds the settings both stages share, not the Stage-2 options
    s1 = load_config(Stage1Config, None, ["encoder.size=mini"])
    assert type(s1.model) is ModelSettings and s1.model.encoder.size == "mini"
    assert "head_input" not in config_to_dict(s1)
    assert s1.model.for_data(("x",)).head_input == "last" and s1.model.for_data(("x",)).labels is None
    with pytest.raises(ConfigError, match="unknown key head_input; valid keys here: data, optim, run, .*encoder"):
        load_config(Stage1Config, None, ["head_input=last"])
    with pytest.raises(ConfigError, match="head_input='first'; valid"):
        load_config(Stage2Config, None, ["head_input=first"])
    with pytest.raises(ConfigError, match="unknown key model"):
        load_config(Stage2Config, None, ["model.encoder.kind=conv"])
