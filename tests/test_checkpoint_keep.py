"""``run.keep_checkpoints``: how many training checkpoints a run keeps (a learning curve scores each one)."""

from __future__ import annotations

import pytest
import torch

from sensorllm.train.config import ConfigError, Stage1Config, load_config
from sensorllm.train.state import save_training_state


def _save(out, step: int, keep: int, model, opt, sched):
    return save_training_state(out, model, opt, sched, {"step": step}, {}, keep=keep,
                               write_model=lambda d: (d.mkdir(parents=True), (d / "model.txt").write_text(str(step))))


@pytest.mark.parametrize("keep", [1, 2, 4])
def test_only_the_newest_keep_checkpoints_stay_and_latest_is_the_last(tmp_path, keep):
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    for step in (5, 10, 15, 20, 25):
        _save(tmp_path, step, keep, model, opt, sched)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == [f"step-{s:06d}" for s in (5, 10, 15, 20, 25)[-keep:]]
    assert (tmp_path / "checkpoints" / "latest").read_text() == "step-000025"
    assert (tmp_path / "checkpoints" / "step-000025" / "model" / "model.txt").read_text() == "25"


def test_the_config_field_defaults_to_two_and_refuses_zero(tmp_path):
    assert load_config(Stage1Config).run.keep_checkpoints == 2
    assert load_config(Stage1Config, overrides=["run.keep_checkpoints=5"]).run.keep_checkpoints == 5
    with pytest.raises(ConfigError, match="keep_checkpoints"):
        load_config(Stage1Config, overrides=["run.keep_checkpoints=0"])
