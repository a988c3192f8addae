"""Every shipped config loads, validates and names a registered dataset."""

from pathlib import Path

import pytest
import yaml

from sensorllm.train.config import Stage1Config, Stage2Config, load_config

ROOT = Path(__file__).resolve().parents[1] / "configs"
STAGE_CONFIGS = sorted(p for p in ROOT.glob("*/*/stage*.yaml")) + sorted(ROOT.glob("tiny/stage*.yaml"))


@pytest.mark.parametrize("path", STAGE_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_stage_config_loads(path):
    cls = Stage1Config if path.name.startswith("stage1") else Stage2Config
    cfg = load_config(cls, path)
    assert cfg.data.prepared
    if "paper" in path.parts:
        assert cfg.optim.lr == 2e-3 and cfg.optim.epochs == 8 and cfg.projector.pool == 1
        assert cfg.encoder.pretrained == "amazon/chronos-t5-large"


def test_all_five_datasets_have_paper_and_here_configs():
    for kind in ("paper", "here"):
        for name in ("usc-had", "uci-har", "mhealth", "pamap2", "capture24"):
            assert (ROOT / kind / name / "stage1.yaml").exists() and (ROOT / kind / name / "stage2.yaml").exists()


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2"])
def test_accelerate_configs_parse(name):
    doc = yaml.safe_load((ROOT / "accelerate" / f"{name}.yaml").read_text())
    assert doc["distributed_type"] in ("MULTI_GPU", "FSDP", "DEEPSPEED")
