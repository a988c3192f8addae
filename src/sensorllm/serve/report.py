"""The report of ``sensorllm predict`` on a labelled input: metrics, confusion plot, per-recording results.

Windows get their true labels in :mod:`sensorllm.serve.predict` (under one of the
:data:`~sensorllm.serve.scoring.LABEL_RULES`); this scores the labelled ones and writes the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.classifier import Classifier

from .predict import Prediction
from .recording import LabelledInput
from .scoring import LABEL_RULES

__all__ = ["write_predict_report"]


def _union_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> tuple[dict, list[int]]:
    """``classification_metrics`` over the classes occurring in ``y_true`` or ``y_pred`` (scikit-learn's default
    class set), and those classes' indices."""
    from sensorllm.eval.metrics import classification_metrics

    used = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    remap = {c: i for i, c in enumerate(used)}
    m = classification_metrics([remap[c] for c in y_true], [remap[c] for c in y_pred], [names[c] for c in used])
    return m, used


def write_predict_report(pred: Prediction, inp: LabelledInput, clf: Classifier, report_dir: str | Path,
                         model_path: str | Path | None = None, notes: Sequence[str] = (),
                         input_checks: list[dict] | None = None) -> Path | None:
    """Score the windows that have a true label: ``metrics.json``, ``confusion_matrix.png`` and ``report.md``
    (:func:`~sensorllm.eval.metrics.write_classification_report`) plus ``per_recording.csv`` in
    ``report_dir``. ``input_checks``: the findings of :mod:`sensorllm.serve.input_checks`, kept in
    ``metrics.json`` (their messages belong in ``notes``). Returns the report, or ``None`` when no window could
    be scored."""
    from sklearn.metrics import f1_score

    from sensorllm.eval.metrics import classification_metrics, write_json_atomic

    if pred.y_true is None or pred.y_pred is None:
        raise ValueError("this prediction has no labels to score against")
    scored = pred.y_true >= 0
    if not scored.any():
        return None
    info = clf.info
    names = info.class_names
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
        "source": str(inp.path), "model": str(model_path or info.name), "model_kind": info.name,
        "label_rule": pred.label_rule, "label_rule_text": LABEL_RULES[pred.label_rule or "pure"],
        "labels_column": inp.labels_column, "label_format": inp.label_format,
        "windows_total": n_all, "windows_scored": n_scored, "windows_not_scored": n_all - n_scored,
        "windows_spanning_label_change": mixed, "window": pred.window, "stride": pred.stride,
        "rate_hz": info.rate_hz, "recordings": len(rows), "per_recording": rows,
        "classes_scored": [names[c] for c in used], "f1_macro_model_classes": all_classes["f1_macro"],
        "input_checks": list(input_checks or []),
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
        f"model: `{model_path or info.name}` ({info.name}); input: `{inp.path}`",
        f"{len(rows)} recording(s)" + (f" from column `{inp.recording_column}`" if inp.recording_column else "")
        + (f", subjects from `{inp.subject_column}`" if inp.subject_column else "")
        + f"; windows of {pred.window} samples ({pred.window / info.rate_hz:g} s at {info.rate_hz:g} Hz), stride "
          f"{pred.stride}, never spanning two recordings",
        f"labels: column `{inp.labels_column}`, read as {inp.label_format}",
        f"**window label rule `{pred.label_rule}`**: {LABEL_RULES[pred.label_rule or 'pure']}. {counted}",
        f1_text,
        "per-recording F1-macro: over the classes occurring in that recording's labels or predictions",
        *notes,
    ]
    from sensorllm.eval.metrics import write_classification_report

    report = write_classification_report(metrics, out, f"{info.name} on {inp.path.name}", head)
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
