"""Is a recording in the units the model was trained on? A check of its magnitude, made before the model loads.

Every model saved by this version carries the root mean square (RMS) of each channel over its training windows
(:func:`~sensorllm.datasets.stats.channel_scale_stats`: SensorLLM in ``extra["channel_stats"]``, baselines in
``config.json["dataset"]["channel_stats"]``). :func:`check_input_units` compares the input's RMS with it:

* The x/y/z channels of one sensor (same kind, placement and unit, from the channel specs) are compared as one
  vector magnitude, ``sqrt(sum of the axes' mean squares)``. An accelerometer's magnitude is about 1 g whatever
  the wearer's posture, so a recording of one activity compares well with the training mix; single axes
  (and channels without a spec) are compared one by one.
* A ratio within ×2 of a unit factor of the channel's unit is a **unit mix-up**: 9.81 (m/s² given to a model
  trained in g; 1/9.81 the other way), 57.3 (deg/s given to a rad/s model), 1000 (mg for g), 100 (gauss for
  µT) ... Channels of unknown unit are tested against 9.81, 57.3 and 1000 and their inverses.
  :func:`enforce` refuses such input unless forced.
* Otherwise a ratio above ×5 is reported as a warning only (another sensor range can do that too), and so is
  one below ÷5 on an accelerometer. Smaller magnitudes are not reported for other sensors: a wearer who sits or
  lies still brings a gyroscope's RMS down to a tenth of a training mix of activities (measured on UCI-HAR).
* Models saved without the statistics (older runs) are not checked; the check says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sensorllm.datasets.spec import DataError

__all__ = ["FAR", "TOLERANCE", "Finding", "UnitCheck", "check_input_units", "enforce", "unit_factors"]

TOLERANCE = 2.0  # a ratio within ×TOLERANCE of a unit factor is taken as that unit mix-up
FAR = 5.0  # otherwise a ratio above ×FAR (or below ÷FAR, accelerometers only) is reported as far off

G = 9.80665
# unit → value in the family's base unit; the first spellings are the ones suggested in messages
_FAMILIES: dict[str, dict[str, float]] = {
    "acceleration": {"g": G, "m/s^2": 1.0, "mg": G / 1000, "m/s2": 1.0, "m/s²": 1.0, "ms^-2": 1.0},
    "angular velocity": {"rad/s": 1.0, "deg/s": math.pi / 180, "mrad/s": 1e-3, "dps": math.pi / 180,
                         "°/s": math.pi / 180},
    "magnetic field": {"uT": 1.0, "nT": 1e-3, "mT": 1e3, "gauss": 100.0, "µT": 1.0, "mG": 0.1},
}
_SUGGEST = {"acceleration": ("g", "m/s^2", "mg"), "angular velocity": ("rad/s", "deg/s", "mrad/s"),
            "magnetic field": ("uT", "nT", "mT", "gauss")}
_GENERIC = [(G, "m/s^2 given to a model trained in g"), (1 / G, "g given to a model trained in m/s^2"),
            (180 / math.pi, "deg/s given to a model trained in rad/s"),
            (math.pi / 180, "rad/s given to a model trained in deg/s"),
            (1000.0, "milli-units (mg, mrad/s) given to a model trained in base units"),
            (1e-3, "base units given to a model trained in milli-units")]


def _family(unit: str) -> str | None:
    for fam, units in _FAMILIES.items():
        if unit in units:
            return fam
    return None


def unit_factors(unit: str | None) -> list[tuple[float, str]]:
    """``(factor, explanation)``: the factor by which a channel's values grow when it is recorded in another
    unit than ``unit`` (the model's), for every other unit of its kind; generic factors when ``unit`` is
    unknown."""
    fam = _family(unit or "")
    if fam is None:
        return list(_GENERIC)
    base = _FAMILIES[fam][unit]  # type: ignore[index]
    out = []
    for other in _SUGGEST[fam]:
        f = base / _FAMILIES[fam][other]
        if abs(math.log(f)) > 1e-6:
            out.append((f, f"{other} given to a model trained in {unit}"))
    return out


def _fmt_factor(f: float) -> str:
    return f"×{f:.0f}" if f >= 100 else f"×{f:.3g}" if f >= 1 else (f"÷{1 / f:.0f}" if 1 / f >= 100 else f"÷{1 / f:.3g}")


@dataclass
class Finding:
    """One channel (or one sensor's axes together) whose magnitude is off."""

    channels: list[str]
    input_rms: float
    train_rms: float
    ratio: float
    kind: Literal["unit", "far"]
    factor: float | None
    message: str


@dataclass
class UnitCheck:
    """What :func:`check_input_units` found: ``findings`` (unit mix-ups and far-off magnitudes) or, when no
    check was possible, ``skipped`` (why)."""

    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None

    @property
    def unit_mixups(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "unit"]

    @property
    def far_off(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "far"]


def _groups(info) -> list[tuple[list[str], str | None, str, str]]:
    """``(channel names, unit, label, sensor kind)``: each sensor's x/y/z axes together, every other channel
    alone."""
    names = list(info.channel_names)
    specs = {c.name: c for c in (info.channels or [])}
    by_sensor: dict[tuple, list[str]] = {}
    for n in names:
        c = specs.get(n)
        if c is not None and c.sensor in ("acc", "gyro", "mag") and c.axis:
            by_sensor.setdefault((c.sensor, c.placement, c.unit), []).append(n)
    out, grouped = [], set()
    for (sensor, placement, unit), members in by_sensor.items():
        if len(members) >= 2:
            where = f" at {placement}" if placement else ""
            out.append((members, unit or None,
                        f"channels {', '.join(repr(m) for m in members)} ({sensor}{where}, vector magnitude)",
                        sensor))
            grouped.update(members)
    for n in names:
        if n not in grouped:
            unit = specs[n].unit if n in specs and specs[n].unit else None
            out.append(([n], unit, f"channel {n!r}", specs[n].sensor if n in specs else "other"))
    order = {n: i for i, n in enumerate(names)}
    return sorted(out, key=lambda g: order[g[0][0]])


def check_input_units(x: np.ndarray, info) -> UnitCheck:
    """Compare the magnitude of input samples ``x`` ``(N, C)`` (in ``info.channel_names`` order; NaN/inf are
    ignored) with the training statistics of ``info`` (a :class:`~sensorllm.classifier.ModelInfo`: it
    needs ``channel_names``, ``channels`` (specs or ``None``) and ``channel_stats``)."""
    stats = info.channel_stats
    if not stats or not isinstance(stats.get("channels"), dict):
        return UnitCheck(skipped="the model was saved without training channel statistics (an older run): the "
                                 "input's units are not checked")
    x = np.asarray(x, dtype=np.float64)
    names = list(info.channel_names)
    ok = np.isfinite(x)
    n_ok = ok.sum(axis=0)
    xz = np.where(ok, x, 0.0)
    ms = np.where(n_ok > 0, (xz * xz).sum(axis=0) / np.maximum(n_ok, 1), np.nan)
    train = stats["channels"]
    check = UnitCheck()
    for members, unit, label, sensor in _groups(info):
        if any(m not in train for m in members):
            continue
        idx = [names.index(m) for m in members]
        if not np.isfinite(ms[idx]).all():
            continue
        got = float(np.sqrt(ms[idx].sum()))
        ref = float(np.sqrt(sum(float(train[m]["rms"]) ** 2 for m in members)))
        if ref <= 1e-12:
            continue
        what = "RMS magnitude" if len(members) > 1 else "RMS"
        if got <= 1e-12:
            check.findings.append(Finding(members, got, ref, 0.0, "far", None,
                                          f"{label}: all zero (training {what} {ref:.3g})"))
            continue
        r = got / ref
        head = f"{label}: {what} {got:.3g}, training data {ref:.3g} ({_fmt_factor(r)})"
        match = min(unit_factors(unit), key=lambda ft: abs(math.log(r / ft[0])))
        if abs(math.log(r / match[0])) <= math.log(TOLERANCE):
            f, why = match
            fix = f"divide the values by {f:.4g}" if f > 1 else f"multiply the values by {1 / f:.4g}"
            if f < 1 and sensor != "acc":
                fix += (f" (a wearer who stays still also lowers the RMS: if the recording really is in "
                        f"{unit or 'the training units'}, force it)")
            check.findings.append(Finding(members, got, ref, r, "unit", f,
                                          f"{head}: likely {why} (factor {_fmt_factor(f)}); {fix}"))
        elif r > FAR or (r < 1 / FAR and sensor == "acc"):
            check.findings.append(Finding(members, got, ref, r, "far", None,
                                          f"{head}: far from the training magnitude (another unit or sensor "
                                          "range, or very different movement?)"))
    return check


def enforce(check: UnitCheck, source: str, force: bool = False, log: Callable[[str], None] = print,
            command: str = "predict") -> None:
    """Report ``check``: a note when skipped, a warning per far-off channel, and for unit mix-ups a
    :class:`~sensorllm.datasets.spec.DataError` naming them (a warning each with ``force``)."""
    if check.skipped:
        log(f"note: {check.skipped}")
    for f in check.far_off:
        log(f"warning: {source}: {f.message}")
    bad = check.unit_mixups
    if not bad:
        return
    if force:
        for f in bad:
            log(f"warning: {source}: {f.message} (continuing: --force)")
        return
    raise DataError(f"{source}: the input does not look like the units the model was trained on: "
                    + "; ".join(f.message for f in bad) + f". Convert it, or pass --force to {command} anyway")
