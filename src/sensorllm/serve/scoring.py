"""The true labels of ``sensorllm predict``'s windows, from a label column of the input.

Labels: with a label column (``label`` by default, ``--labels-column``) the windows are scored against it.
Values are the model's class names or the dataset spec's class codes (``FEL``; both case-insensitive, mixed
freely), or its class indices ``0..K-1`` (then all of them; empty cells are unlabelled samples; :func:`parse_labels`); anything else is an error naming the value and its row. A window's
true label follows one of the :data:`LABEL_RULES`, stated in the report (:mod:`sensorllm.serve.report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.datasets.spec import DataError

__all__ = ["LABEL_RULES", "parse_labels", "window_label"]

LABEL_RULES: dict[str, str] = {
    "pure": "a window is scored only when all of its samples carry the same label; windows that span a label "
            "change or touch an unlabelled sample are predicted but not scored (this is how `sensorllm prepare` "
            "cuts training and test windows: inside runs of one label)",
    "majority": "a window's label is the label most of its labelled samples carry (ties: the centre sample's "
                "label if it is among them, else the lowest class index); windows without any labelled sample "
                "are not scored",
    "center": "a window's label is the label of its centre sample (sample window//2 of the window); windows "
              "whose centre sample is unlabelled are not scored",
}


def parse_labels(values: np.ndarray, class_names: Sequence[str], path: str | Path, column: str,
                 class_codes: Sequence[str] = ()) -> tuple[np.ndarray, str]:
    """Per-row class index (``-1``: empty cell) from a label column of class names, class codes or class indices.

    Text first: every non-empty value a class name (exactly, else case-insensitively) or a class code
    (``class_codes``, the dataset spec's codes such as ``FEL``; case-insensitive), names and codes mixed freely,
    as ``sensorllm prepare generic`` reads them. Else indices: every value an integer in ``[0, K)``. Anything else
    raises :class:`DataError` naming the first bad value and its row.
    Returns ``(indices, "class names" | "class codes" | "class names and codes" | "class indices")``."""
    names = list(class_names)
    codes = list(class_codes) + [""] * (len(names) - len(class_codes))
    s = pd.Series(np.asarray(values, dtype=object).ravel())
    empty = (s.isna() | s.astype(str).str.strip().eq("")).to_numpy()
    text = np.array(["" if e else str(v).strip() for v, e in zip(s.tolist(), empty)], dtype=object)
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    integral = np.isfinite(num) & (np.mod(np.where(np.isfinite(num), num, 0.5), 1) == 0)
    text[integral] = [str(int(v)) for v in num[integral]]  # 3.0 (a float column) → "3"
    out = np.full(len(s), -1, dtype=np.int64)
    present = ~empty
    if not present.any():
        return out, "empty"
    exact = {n: i for i, n in enumerate(names)}
    folded = {n.lower(): i for i, n in enumerate(names)}
    by_code = {c.lower(): i for i, c in enumerate(codes) if c}
    as_name = np.array([exact.get(t, folded.get(t.lower(), -1)) for t in text])
    as_code = np.array([by_code.get(t.lower(), -1) for t in text])
    if ((as_name >= 0) | (as_code >= 0))[present].all():
        pick = np.where(as_name >= 0, as_name, as_code)
        out[present] = pick[present]
        used_code = bool((present & (as_name < 0)).any())
        used_name = bool((present & (as_name >= 0)).any())
        return out, ("class names and codes" if used_code and used_name else
                     "class codes" if used_code else "class names")
    if integral[present].all():
        bad = present & ((num < 0) | (num >= len(names)))
        if not bad.any():
            out[present] = num[present].astype(np.int64)
            return out, "class indices"
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: label column {column!r}, row {i + 1}: label {text[i]!r} is not a class index of "
                        f"the model (0..{len(names) - 1}: {names})")
    unknown = present & (as_name < 0) & (as_code < 0)
    i = int(np.flatnonzero(unknown & ~integral)[0]) if (unknown & ~integral).any() else int(np.flatnonzero(unknown)[0])
    known_codes = [c for c in codes if c]
    what = f"class names {names}" + (f", class codes {known_codes}" if known_codes else "")
    raise DataError(f"{path}: label column {column!r}, row {i + 1}: unknown label {text[i]!r}; labels must be the "
                    f"model's {what} or class indices 0..{len(names) - 1}")


def window_label(lab: np.ndarray, rule: str, k: int) -> tuple[int, float]:
    """``(true class or -1, purity)`` of a window's per-sample labels under ``rule``; purity: the share of the
    window's samples that carry the chosen label (for an unscored window, its most common label)."""
    known = lab[lab >= 0]
    counts = np.bincount(known, minlength=k) if len(known) else np.zeros(k, dtype=np.int64)
    top = int(counts.max()) if len(known) else 0
    purity = top / len(lab)
    if rule == "pure":
        return (int(lab[0]), 1.0) if top == len(lab) else (-1, purity)
    if rule == "center":
        c = int(lab[len(lab) // 2])
        return (c, float(counts[c]) / len(lab)) if c >= 0 else (-1, purity)
    if rule == "majority":
        if not len(known):
            return -1, 0.0
        tied = np.flatnonzero(counts == top)
        c = int(lab[len(lab) // 2])
        return (c if c in tied else int(tied[0])), purity
    raise ValueError(f"unknown label rule {rule!r}; known: {', '.join(LABEL_RULES)}")
