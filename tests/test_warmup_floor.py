"""``optim.warmup_steps_min``: the warm-up is ``max(int(warmup_ratio × steps), warmup_steps_min)`` steps, at most
the run's steps; at its default 0 the schedule is the one ``warmup_ratio`` alone gives, as before the key existed."""

import math

import pytest
import torch

from sensorllm.train.config import ConfigError, OptimConfig, Stage1Config, Stage2Config, load_config
from sensorllm.train.loop import build_scheduler


def _lrs(optim: OptimConfig, steps: int) -> list[float]:
    """The learning rate of each optimiser step 0 … steps-1 of a run's schedule."""
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=optim.lr)
    sched, _ = build_scheduler(opt, optim, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_the_floor_sets_a_linear_warm_up_then_the_cosine_decay():
    lr, steps = 1e-3, 10
    floored = OptimConfig(lr=lr, warmup_ratio=0.03, warmup_steps_min=4)
    assert floored.warmup_steps(steps) == 4  # int(0.3) = 0 from the ratio alone
    got = _lrs(floored, steps)
    assert got[:5] == pytest.approx([0.0, lr / 4, lr / 2, 3 * lr / 4, lr])
    decay = [lr * 0.5 * (1 + math.cos(math.pi * (s - 4) / (steps - 4))) for s in range(4, steps)]
    assert got[4:] == pytest.approx(decay)
    linear = _lrs(OptimConfig(lr=lr, warmup_steps_min=4, schedule="linear"), steps)
    assert linear == pytest.approx([0.0, lr / 4, lr / 2, 3 * lr / 4, *(lr * (steps - s) / 6 for s in range(4, 10))])


def test_default_floor_is_the_ratio_alone_and_the_floor_never_passes_the_run():
    assert OptimConfig().warmup_steps_min == 0
    for steps in (1, 10, 50, 116, 1000):
        assert OptimConfig(warmup_ratio=0.03).warmup_steps(steps) == int(0.03 * steps)  # 116 → 3 (Epilepsy)
    assert _lrs(OptimConfig(lr=1e-3), 10) == pytest.approx(_lrs(OptimConfig(lr=1e-3, warmup_ratio=0.03), 10))
    assert _lrs(OptimConfig(lr=1e-3), 10)[0] == pytest.approx(1e-3)  # 10 steps at 3 %: no warm-up
    assert OptimConfig(warmup_ratio=0.1, warmup_steps_min=5).warmup_steps(200) == 20  # the ratio's is longer
    assert OptimConfig(warmup_steps_min=30).warmup_steps(116) == 30
    assert OptimConfig(warmup_steps_min=30).warmup_steps(8) == 8  # never more than the run's steps
    short = _lrs(OptimConfig(lr=1e-3, warmup_steps_min=30), 8)
    assert short == pytest.approx([1e-3 * s / 8 for s in range(8)])


@pytest.mark.parametrize("cls", [Stage1Config, Stage2Config])
def test_the_key_loads_from_overrides_and_bad_values_are_errors(cls):
    assert load_config(cls, None, ["optim.warmup_steps_min=20"]).optim.warmup_steps_min == 20
    with pytest.raises(ConfigError, match=r"optim.warmup_steps_min=-1; it must be ≥ 0"):
        load_config(cls, None, ["optim.warmup_steps_min=-1"])
    with pytest.raises(ConfigError, match="optim.warmup_steps_min: expected int, got 2.5"):
        load_config(cls, None, ["optim.warmup_steps_min=2.5"])
    with pytest.raises(ConfigError) as err:  # reported with the other sections' errors
        load_config(cls, None, ["optim.warmup_steps_min=-3", "run.keep_checkpoints=0"])
    assert "warmup_steps_min=-3" in str(err.value) and "keep_checkpoints=0" in str(err.value)
