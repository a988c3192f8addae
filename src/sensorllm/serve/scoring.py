"""Scoring ``sensorllm predict``'s windows against a label column of the input, and its report.

Labels: with a label column (``label`` by default, ``--labels-column``) the windows are scored against it.
Values are the model's class names or its class indices ``0..K-1`` (all one or all the other; empty cells are
unlabelled samples; :func:`parse_labels`); anything else is an error naming the value and its row. A window's
true label follows one of the :data:`LABEL_RULES`, stated in the report (:func:`write_predict_report`:
metrics, confusion plot, per-recording results).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sensorllm.datasets.spec import DataError

if TYPE_CHECKING:
    from .models import Classifier
    from .predict import Prediction
    from .recording import LabelledInput

__all__ = ["LABEL_RULES", "parse_labels", "write_predict_report"]

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


def parse_labels(values: np.ndarray, class_names: Sequence[str], path: str | Path, column: str
                 ) -> tuple[np.ndarray, str]:
    """Per-row class index (``-1``: empty cell) from a label column of class names or class indices.

    Names are tried first (every non-empty value a class name); else indices (every value an integer in
    ``[0, K)``). Anything else raises :class:`DataError` naming the first bad value and its row.
    Returns ``(indices, "class names" | "class indices")``."""
    names = list(class_names)
    s = pd.Series(np.asarray(values, dtype=object).ravel())
    empty = (s.isna() | s.astype(str).str.strip().eq("")).to_numpy()
    text = s.astype(str).str.strip().to_numpy()
    out = np.full(len(s), -1, dtype=np.int64)
    present = ~empty
    if not present.any():
        return out, "empty"
    lookup = {n: i for i, n in enumerate(names)}
    as_name = np.array([lookup.get(t, -1) for t in text])
    if (as_name[present] >= 0).all():
        out[present] = as_name[present]
        return out, "class names"
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    integral = np.isfinite(num) & (np.mod(np.where(np.isfinite(num), num, 0.5), 1) == 0)
    if integral[present].all():
        bad = present & ((num < 0) | (num >= len(names)))
        if not bad.any():
            out[present] = num[present].astype(np.int64)
            return out, "class indices"
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: label column {column!r}, row {i + 1}: label {text[i]!r} is not a class index of "
                        f"the model (0..{len(names) - 1}: {names})")
    i = int(np.flatnonzero(present & (as_name < 0) & ~integral)[0]) if (present & (as_name < 0) & ~integral).any() \
        else int(np.flatnonzero(present & (as_name < 0))[0])
    raise DataError(f"{path}: label column {column!r}, row {i + 1}: unknown label {text[i]!r}; labels must be the "
                    f"model's class names {names} or class indices 0..{len(names) - 1}")


def _window_label(lab: np.ndarray, rule: str, k: int) -> tuple[int, float]:
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


# ---- scoring report -------------------------------------------------------------------------------------------


def _union_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> tuple[dict, list[int]]:
    """``classification_metrics`` over the classes occurring in ``y_true`` or ``y_pred`` (scikit-learn's default
    class set), and those classes' indices."""
    from sensorllm.eval.metrics import classification_metrics

    used = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    remap = {c: i for i, c in enumerate(used)}
    m = classification_metrics([remap[c] for c in y_true], [remap[c] for c in y_pred], [names[c] for c in used])
    return m, used


def write_predict_report(pred: Prediction, inp: LabelledInput, clf: Classifier, report_dir: str | Path,
                         model_path: str | Path | None = None, notes: Sequence[str] = ()) -> Path | None:
    """Score the windows that have a true label: ``metrics.json``, ``confusion_matrix.png`` and ``report.md``
    (:func:`~sensorllm.eval.metrics.write_classification_report`) plus ``per_recording.csv`` in
    ``report_dir``. Returns the report, or ``None`` when no window could be scored."""
    from sklearn.metrics import f1_score

    from sensorllm.eval.metrics import classification_metrics, write_json_atomic

    if pred.y_true is None or pred.y_pred is None:
        raise ValueError("this prediction has no labels to score against")
    scored = pred.y_true >= 0
    if not scored.any():
        return None
    names = clf.class_names
    yt, yp = pred.y_true[scored], pred.y_pred[scored]
    metrics, used = _union_metrics(yt, yp, names)
    all_classes = classification_metrics(yt, yp, names)
    df = pred.frame
    keys = list(zip(df["recording"] if "recording" in df else [None] * len(df),
                    df["subject"] if "subject" in df else [None] * len(df)))
    rows = []
    seen: dict[tuple, dict] = {}
    for r in pred.recordings:
        key = (r["recording"], r["subject"])
        if key in seen:
            seen[key]["windows"] += r["windows"]
            continue
        whole = r["recording"] is None and r["subject"] is None
        seen[key] = {"recording": "(whole file)" if whole else r["recording"], "subject": r["subject"],
                     "windows": r["windows"]}
        rows.append(seen[key])
    for key, row in seen.items():
        sel = np.array([k == key for k in keys], dtype=bool) & scored
        row["scored"] = int(sel.sum())
        if sel.any():
            t, q = pred.y_true[sel], pred.y_pred[sel]
            row["accuracy"] = float(np.mean(t == q))
            row["f1_macro"] = float(f1_score(t, q, labels=sorted(set(t.tolist()) | set(q.tolist())),
                                             average="macro", zero_division=0))
            row["classes"] = ", ".join(names[c] for c in sorted(set(t.tolist())))
        else:
            row.update(accuracy=None, f1_macro=None, classes="")
    n_all, n_scored = len(pred.y_true), int(scored.sum())
    mixed = int((df["label_purity"].to_numpy() < 1).sum())  # windows spanning a label change or unlabelled samples
    metrics.update({
        "source": str(inp.path), "model": str(model_path or clf.name), "model_kind": clf.name,
        "label_rule": pred.label_rule, "label_rule_text": LABEL_RULES[pred.label_rule or "pure"],
        "labels_column": inp.labels_column, "label_format": inp.label_format,
        "windows_total": n_all, "windows_scored": n_scored, "windows_not_scored": n_all - n_scored,
        "windows_spanning_label_change": mixed, "window": pred.window, "stride": pred.stride,
        "rate_hz": clf.rate_hz, "recordings": len(rows), "per_recording": rows,
        "classes_scored": [names[c] for c in used], "f1_macro_model_classes": all_classes["f1_macro"],
    })
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    not_scored = {"pure": "they span a label change or touch unlabelled samples",
                  "majority": "they have no labelled sample", "center": "their centre sample is unlabelled"}
    mixed_scored = int(((df["label_purity"].to_numpy() < 1) & scored).sum())
    counted = (f"{n_scored} of {n_all} windows scored; {n_all - n_scored} not scored "
               f"({not_scored[pred.label_rule or 'pure']})")
    if pred.label_rule != "pure":
        counted += f"; {mixed_scored} scored windows span a label change or unlabelled samples"
    f1_text = (f"F1-macro averages over all {len(names)} model classes" if len(used) == len(names) else
               f"F1-macro averages over the {len(used)} classes that occur in the scored labels or predictions "
               f"(scikit-learn's default; the confusion matrix shows the same classes); over all {len(names)} "
               f"model classes it is {all_classes['f1_macro']:.4f}")
    head = [
        f"model: `{model_path or clf.name}` ({clf.name}); input: `{inp.path}`",
        f"{len(rows)} recording(s)" + (f" from column `{inp.recording_column}`" if inp.recording_column else "")
        + (f", subjects from `{inp.subject_column}`" if inp.subject_column else "")
        + f"; windows of {pred.window} samples ({pred.window / clf.rate_hz:g} s at {clf.rate_hz:g} Hz), stride "
          f"{pred.stride}, never spanning two recordings",
        f"labels: column `{inp.labels_column}`, read as {inp.label_format}",
        f"**window label rule `{pred.label_rule}`**: {LABEL_RULES[pred.label_rule or 'pure']}. {counted}",
        f1_text,
        "per-recording F1-macro: over the classes occurring in that recording's labels or predictions",
        *notes,
    ]
    from sensorllm.eval.metrics import write_classification_report

    report = write_classification_report(metrics, out, f"{clf.name} on {inp.path.name}", head)
    table = pd.DataFrame(rows, columns=["recording", "subject", "windows", "scored", "accuracy", "f1_macro",
                                        "classes"])
    table.to_csv(out / "per_recording.csv", index=False)
    lines = ["", "## Per recording", "", "| recording | subject | windows | scored | accuracy | F1-macro | classes |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = "" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        f1 = "" if r["f1_macro"] is None else f"{r['f1_macro']:.3f}"
        lines.append(f"| {r['recording'] or ''} | {r['subject'] or ''} | {r['windows']} | {r['scored']} | {acc} | "
                     f"{f1} | {r['classes']} |")
    with open(report, "a") as fh:
        fh.write("\n".join(lines) + "\n")
    write_json_atomic(metrics, out / "metrics.json")
    return report
