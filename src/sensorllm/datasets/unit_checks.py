"""Unit checks of ``sensorllm prepare``: does the data look like the units its spec declares?

While recordings are cut, :func:`collect_acc_magnitude` and :func:`collect_gyro_speed` note one statistic per
sensor and recording; once all are read, :func:`unit_warnings` (accelerometers: g vs m/s^2) and
:func:`gyro_unit_warnings` (gyroscopes: deg/s vs rad/s) turn them into the manifest's warnings. The data are
never rescaled.
"""

from __future__ import annotations

import numpy as np

from .spec import DatasetSpec

__all__ = ["collect_acc_magnitude", "collect_gyro_speed", "gyro_unit_warnings", "unit_warnings"]

G = 9.80665


def collect_acc_magnitude(data: np.ndarray, spec: DatasetSpec, magnitudes: dict) -> None:
    """Median |acc| per tri-axial accelerometer (same placement and unit, three axes) of one recording,
    appended to ``magnitudes[(placement, unit)]``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, ch in enumerate(spec.channels):
        if ch.sensor == "acc":
            groups.setdefault((ch.placement, ch.unit), []).append(i)
    for key, idx in groups.items():
        if len(idx) == 3 and len(data):
            magnitudes.setdefault(key, []).append(float(np.median(np.linalg.norm(data[:, idx], axis=1))))


def unit_warnings(acc_magnitudes: dict) -> list[str]:
    """Warn when an accelerometer's median magnitude says m/s^2 where g was declared, or the reverse.

    At rest or in everyday movement the magnitude of a tri-axial accelerometer including gravity is close to
    1 g = 9.81 m/s^2, so the median over a recording tells the unit apart by a factor of ~10.
    """
    out = []
    for (placement, unit), meds in sorted(acc_magnitudes.items()):
        med = float(np.median(meds))
        if unit == "g" and 4.0 < med < 30.0:
            out.append(f"{placement} accelerometer declared in g but its median magnitude is {med:.2f}: "
                       f"looks like m/s^2 (divide by {G:.3f})")
        elif unit in ("m/s^2", "m/s2") and 0.3 < med < 2.5:
            out.append(f"{placement} accelerometer declared in m/s^2 but its median magnitude is {med:.2f}: "
                       f"looks like g (multiply by {G:.3f})")
    return out


DEG_PER_RAD = 180.0 / np.pi
GYRO_RAD_MAX = 40.0  # rad/s: a 99th-percentile angular speed above this (2300 deg/s) is not a human in rad/s
GYRO_DEG_MIN = 15.0  # deg/s: a dataset whose most active recording stays below this barely moves in deg/s
_DEG_UNITS = {"deg/s", "dps", "°/s", "degree/s", "degrees/s", "deg/sec"}
_RAD_UNITS = {"rad/s", "rad/sec"}


def collect_gyro_speed(data: np.ndarray, spec: DatasetSpec, speeds: dict, source: str) -> None:
    """99th percentile of |angular velocity| per gyroscope (channels of one placement and unit) of one
    recording, appended with ``source`` to ``speeds[(placement, unit, channel names)]``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, ch in enumerate(spec.channels):
        if ch.sensor == "gyro":
            groups.setdefault((ch.placement, ch.unit), []).append(i)
    for (placement, unit), idx in groups.items():
        if len(data):
            p99 = float(np.percentile(np.linalg.norm(data[:, idx], axis=1), 99))
            key = (placement, unit, tuple(spec.channels[i].name for i in idx))
            speeds.setdefault(key, []).append((p99, source))


def gyro_unit_warnings(gyro_speeds: dict) -> list[str]:
    """Warn when a gyroscope's angular speeds say deg/s where rad/s was declared, or the reverse.

    Statistic: the 99th percentile of |angular velocity| of each recording. Human movement rarely exceeds
    ~20 rad/s (~1150 deg/s), and any activity beyond standing still reaches tens of deg/s, so the two units
    differ by a factor of 57.3 that shows: a recording above ``GYRO_RAD_MAX`` declared in rad/s is in deg/s;
    a dataset declared in deg/s whose most active recording stays below ``GYRO_DEG_MIN`` is in rad/s. Between
    the two (e.g. data that is mostly at rest) nothing is said.
    """
    out = []
    for (placement, unit, chans), items in sorted(gyro_speeds.items()):
        kind = unit.strip().lower().replace(" ", "")
        what = f"gyroscope {', '.join(chans)}" + (f" ({placement})" if placement else "")
        if kind in _RAD_UNITS:
            bad = sorted((it for it in items if it[0] > GYRO_RAD_MAX), key=lambda it: -it[0])
            if bad:
                files = list(dict.fromkeys(src for _, src in bad))
                more = f" (and {len(files) - 1} more file(s))" if len(files) > 1 else ""
                out.append(f"{what} declared in {unit}, but its 99th-percentile angular speed is {bad[0][0]:.1f} in "
                           f"{bad[0][1]}{more}; above {GYRO_RAD_MAX:g} rad/s looks like deg/s "
                           f"(divide by {DEG_PER_RAD:.1f})")
        elif kind in _DEG_UNITS and items:
            top, src = max(items, key=lambda it: it[0])
            if top < GYRO_DEG_MIN:
                out.append(f"{what} declared in {unit}, but its 99th-percentile angular speed is at most {top:.2f} "
                           f"over all {len(items)} recordings (highest in {src}); below {GYRO_DEG_MIN:g} deg/s "
                           f"looks like rad/s (multiply by {DEG_PER_RAD:.1f})")
    return out
