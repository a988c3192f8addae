"""What a comparison can run: :class:`Method` (a registered baseline or a SensorLLM variant), the names the
command line accepts (:func:`resolve_method`) and the SensorLLM configuration pair (:func:`config_pair`; by
default the packaged recommended configuration)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sensorllm.configs import DEFAULT, config_folder

__all__ = ["Method", "SENSORLLM_METHODS", "known_methods", "resolve_method", "resolve_methods", "config_pair"]


@dataclass(frozen=True)
class Method:
    """One row of a comparison.

    Baselines (``baseline`` set): a registered baseline (``sensorllm baseline``) with optional model arguments.
    SensorLLM variants (``baseline`` None): Stage 1 (unless ``stage1`` is false), then Stage 2 from it, scored
    on the test split.

    Attributes:
        name: the row's name and its run folder under the comparison's output folder.
        baseline: registered baseline name; None for a SensorLLM variant.
        model_args: baseline model arguments (``--model-arg``).
        overrides: config overrides of both SensorLLM stages (``key=value``).
        stage2_overrides: Stage-2-only overrides (e.g. ``init_from=null``).
        stage1: start Stage 2 from a Stage-1 model (one per seed, shared by the rows with equal Stage-1 settings).
        stage1_config / stage2_config: YAML replacing the comparison's configuration of that stage.
        stage1_data: align on this other prepared dataset instead of the compared one.
        stage1_name: folder (under the output folder) of the shared Stage-1 runs; default: from ``overrides``.
    """

    name: str
    baseline: str | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    stage2_overrides: tuple[str, ...] = ()
    stage1: bool = True
    stage1_config: str | None = None
    stage2_config: str | None = None
    stage1_data: str | None = None
    stage1_name: str | None = None

    @property
    def kind(self) -> str:
        return "baseline" if self.baseline else "sensorllm"

    def stage1_folder(self) -> str:
        """Folder name of this variant's Stage-1 runs: rows with the same both-stage overrides (and Stage-1
        data) share it."""
        if self.stage1_name:
            return self.stage1_name
        data = f"{Path(self.stage1_data).name}-" if self.stage1_data else ""
        slug = re.sub(r"[^A-Za-z0-9._=+-]+", "_", "-".join(self.overrides)) or "default"
        return f"stage1-{data}{slug}"


SENSORLLM_METHODS: dict[str, Method] = {
    "sensorllm": Method("sensorllm"),  # Stage 1, then Stage 2 from it (the paper's method)
    "sensorllm-no-stage1": Method("sensorllm-no-stage1", stage1=False, stage2_overrides=("init_from=null",)),
}


def known_methods() -> list[str]:
    from sensorllm.baselines import list_baselines

    return list_baselines() + list(SENSORLLM_METHODS)


def resolve_method(name: str) -> Method:
    """The method a command-line name stands for: a registered baseline (``cnn1d``, ``features-rf``, …),
    ``sensorllm`` or ``sensorllm-no-stage1``. Unknown names raise ValueError listing the known ones."""
    from sensorllm.baselines import get_baseline

    key = name.strip().lower().replace("_", "-")
    if key in SENSORLLM_METHODS:
        return SENSORLLM_METHODS[key]
    try:
        spec = get_baseline(key)
    except KeyError:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(known_methods())}") from None
    return Method(spec.name, baseline=spec.name)


def resolve_methods(names: str | list[str]) -> list[Method]:
    """Methods from a comma-separated string (or a list of names), duplicates dropped, order kept."""
    items = names.split(",") if isinstance(names, str) else [n for part in names for n in part.split(",")]
    out: dict[str, Method] = {}
    for n in (n for n in items if n.strip()):
        m = resolve_method(n)
        out.setdefault(m.name, m)
    if not out:
        raise ValueError("no methods given")
    return list(out.values())


def config_pair(folder: str | Path = DEFAULT) -> tuple[Path, Path]:
    """``(stage1.yaml, stage2.yaml)`` of ``folder``, a folder or the name of a configuration packaged with
    sensorllm (:mod:`sensorllm.configs`; default ``recommended``, the recommended CPU configuration: it takes the
    channels, rate, window and classes from the compared dataset and its paths from the comparison); raises
    FileNotFoundError naming what is missing."""
    d = config_folder(folder)
    missing = [f for f in ("stage1.yaml", "stage2.yaml") if not (d / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{d} lacks {' and '.join(missing)} (--sensorllm-config takes a folder with "
                                "stage1.yaml and stage2.yaml)")
    return d / "stage1.yaml", d / "stage2.yaml"
