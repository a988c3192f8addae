"""Subjects → train/val/test for ``sensorllm prepare`` (:func:`assign_splits`), and the check of the
validation split it gives (:func:`split_warnings`: fewer than two validation subjects)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from .options import PrepareOptions
from .spec import DataError, DatasetSpec

__all__ = ["assign_splits", "natural_key", "split_warnings"]


def natural_key(s: str) -> tuple:
    """Sort key that orders ``"2" < "10"`` and ``"P2" < "P10"``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def assign_splits(
    subjects: Iterable[str],
    spec: DatasetSpec,
    opts: PrepareOptions,
    fixed: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Assign subjects to train/val/test.

    Test = the spec's test subjects (or recordings whose raw files fix ``test``). The training pool is the
    spec's training subjects (default: all others). Validation, first that applies: none with ``paper_split``;
    ``opts.val_subjects``; a seeded draw with ``opts.val_fraction``; the spec's ``val_subjects``; a seeded draw
    of ``round(val_fraction * n_train)`` (at least one) training subjects with the spec's ``val_fraction``.
    """
    fixed = fixed or {}
    subjects = sorted(set(subjects), key=natural_key)
    test = [s for s in subjects if fixed.get(s) == "test" or (s not in fixed and s in spec.test_subjects)]
    pool = [s for s in subjects if s not in test]
    if spec.train_subjects is not None:
        pool = [s for s in pool if s in spec.train_subjects or fixed.get(s) == "train"]
    if opts.paper_split:
        val: list[str] = []
    elif (explicit := _explicit_val(spec, opts)) is not None:
        origin = "--val-subjects" if opts.val_subjects is not None else "the spec's val_subjects"
        unknown = [s for s in explicit if s not in pool]
        if unknown:
            raise DataError(f"validation subjects {unknown} ({origin}) are not training subjects of {spec.name} "
                            f"(training subjects: {', '.join(pool)})")
        val = sorted(set(explicit), key=natural_key)
    else:
        frac = spec.val_fraction if opts.val_fraction is None else opts.val_fraction
        n_val = max(1, round(frac * len(pool))) if frac > 0 and len(pool) >= 2 else 0
        rng = np.random.default_rng([opts.seed, 7919])
        val = sorted(rng.choice(pool, size=n_val, replace=False).tolist(), key=natural_key) if n_val else []
    train = [s for s in pool if s not in val]
    return {"train": train, "val": val, "test": test}


def _explicit_val(spec: DatasetSpec, opts: PrepareOptions) -> tuple[str, ...] | None:
    """The explicit validation subjects in force (``None``: a seeded draw by fraction)."""
    if opts.val_subjects is not None:
        return tuple(opts.val_subjects)
    if opts.val_fraction is None and spec.val_subjects is not None:
        return tuple(spec.val_subjects)
    return None


def split_warnings(splits: dict[str, list[str]], spec: DatasetSpec, opts: PrepareOptions) -> list[str]:
    """Warn when validation rests on fewer than two subjects (unless no validation was asked for)."""
    if opts.paper_split:
        return []
    val, n_pool = splits["val"], len(splits["train"]) + len(splits["val"])
    explicit = _explicit_val(spec, opts)
    frac = spec.val_fraction if opts.val_fraction is None else opts.val_fraction
    if len(val) >= 2 or (not val and (explicit == () or (explicit is None and frac == 0))):
        return []
    if not val:
        return [(f"validation has 0 subjects: the training pool has only {n_pool} subject(s), so nothing is held "
                 "out for model selection")]
    if n_pool < 3:
        fix = "no larger validation split leaves a training subject"
    else:
        fix = "choose at least 2 with --val-subjects or the spec's val_subjects"
        if explicit is None:
            fix += f", or raise val_fraction to at least {np.ceil(150 / n_pool) / 100:.2f}"
    return [(f"validation has 1 subject (subject {val[0]}) of {n_pool} training subjects: validation scores then "
             f"measure one person and can differ widely from test scores; {fix}")]
