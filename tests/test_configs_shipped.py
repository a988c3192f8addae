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
        assert cfg.optim.lr == 2e-3 and cfg.optim.epochs == 8 and cfg.model.projector.pool == 1
        assert cfg.model.encoder.pretrained == "amazon/chronos-t5-large"


def test_all_five_datasets_have_paper_and_here_configs():
    for kind in ("paper", "here"):
        for name in ("usc-had", "uci-har", "mhealth", "pamap2", "capture24"):
            assert (ROOT / kind / name / "stage1.yaml").exists() and (ROOT / kind / name / "stage2.yaml").exists()


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2"])
def test_accelerate_configs_parse(name):
    doc = yaml.safe_load((ROOT / "accelerate" / f"{name}.yaml").read_text())
    assert doc["distributed_type"] in ("MULTI_GPU", "FSDP", "DEEPSPEED")


# -- the configurations packaged with sensorllm (src/sensorllm/configs/) ------------------------------------

PACKAGED = [(name, stage) for name in ("recommended", "demo") for stage in (1, 2)]
PACKAGED += [("recommended/stage1-describe", 1)]


@pytest.mark.parametrize("name,stage", PACKAGED, ids=lambda v: str(v))
def test_packaged_config_loads_and_names_no_dataset(name, stage):
    from sensorllm.configs import PATH_KEYS, sets_key, stage_config

    path = stage_config(name, stage)
    assert path.is_file() and "configs" in path.parts
    load_config(Stage1Config if stage == 1 else Stage2Config, path)
    # dataset-independent: the data, the output folder and the Stage-1 model come from the command
    assert not [k for k in PATH_KEYS if sets_key(path, k)]


UCI_HAR = ["stage1.yaml", "stage2.yaml", "stage1-describe.yaml"]


def _without_paths(doc: dict) -> dict:
    from sensorllm.configs import PATH_KEYS

    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for key in PATH_KEYS:
        *parents, last = key.split(".")
        node = doc
        for p in parents:
            node = node.get(p, {})
        node.pop(last, None)
    return doc


@pytest.mark.parametrize("name", UCI_HAR)
def test_uci_har_recommended_is_the_packaged_one_plus_its_paths(name):
    """configs/recommended/uci-har/ differs from the packaged recommended configuration only in its paths: a
    change to one must be made to the other."""
    from sensorllm.configs import PATH_KEYS, packaged_dir, sets_key

    repo = ROOT / "recommended" / "uci-har" / name
    packaged = packaged_dir("recommended") / name
    assert _without_paths(yaml.safe_load(repo.read_text())) == yaml.safe_load(packaged.read_text()), (
        f"{repo} and {packaged} differ in more than {', '.join(PATH_KEYS)}: change both together")
    assert sets_key(repo, "data.prepared") and sets_key(repo, "run.out_dir")
    assert sets_key(repo, "init_from") == (name == "stage2.yaml")


def test_only_the_uci_har_recommended_folder_is_in_the_repository():
    # any other dataset uses the packaged configuration (sensorllm compare, align, tune by default)
    assert sorted(p.name for p in (ROOT / "recommended").iterdir()) == ["uci-har"]
    assert sorted(p.name for p in (ROOT / "recommended" / "uci-har").iterdir()) == sorted(UCI_HAR)
