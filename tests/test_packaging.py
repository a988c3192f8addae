"""sensorllm built into a wheel and installed from it (not editable, away from the source tree) finds the
configurations it ships: ``align``, ``tune``, ``compare`` and ``demo`` run without a checkout's configs/."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import sensorllm
from sensorllm.cli.demo_cmd import CONFIGS
from sensorllm.compare import config_pair
from sensorllm.configs import config_folder, packaged_names, stage_config
from sensorllm.train.config import Stage1Config, Stage2Config, load_config

paths = [stage_config(None, 1), stage_config(None, 2), stage_config("recommended/stage1-describe", 1),
         *config_pair(), *(config_folder(CONFIGS) / f"stage{k}.yaml" for k in (1, 2))]
for p in paths:
    load_config(Stage1Config if p.name.startswith("stage1") else Stage2Config, p)
print(json.dumps({"module": sensorllm.__file__, "paths": [str(p) for p in paths], "names": packaged_names()}))
"""


def _run(*argv: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_an_installed_wheel_finds_its_packaged_configurations(tmp_path):
    tree = tmp_path / "tree"  # the sources the wheel is built from: a copy, so the checkout gets no build/ folder
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                 str(tmp_path / "wheels"), str(tree), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheels").glob("sensorllm-*.whl")
    site = tmp_path / "site"
    installed = _run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel),
                     cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"  # no configs/ here or above
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the editable install of this checkout
    probe = _run(sys.executable, "-c", PROBE, cwd=elsewhere, env=env)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["module"].startswith(str(site))
    assert all(p.startswith(str(site / "sensorllm" / "configs")) for p in found["paths"]), found["paths"]
    assert found["names"] == ["demo", "recommended", "recommended/stage1-describe"]

    # the command line resolves the default configuration there too (and asks for the missing output folder)
    cli = _run(sys.executable, "-m", "sensorllm.cli.main", "tune", "--data", "somewhere", cwd=elsewhere, env=env)
    assert cli.returncode == 1
    packaged = site / "sensorllm" / "configs" / "recommended" / "stage2.yaml"
    assert f"{packaged} names no output folder" in cli.stderr
