"""Classification metrics (scikit-learn), a confusion-matrix PNG and a Markdown report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

__all__ = ["classification_metrics", "plot_confusion", "write_classification_report", "write_json_atomic"]


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]) -> dict:
    """Accuracy, F1-macro/weighted, macro precision/recall, per-class P/R/F1/support and the confusion matrix.

    Every class of ``class_names`` is scored, also when it is absent from ``y_true`` (its F1 is then 0 and it
    still counts in the macro average, as scikit-learn does with ``labels=``).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {len(y_true)} entries, y_pred {len(y_pred)}")
    labels = list(range(len(class_names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "precision_macro": float(np.mean(p)),
        "recall_macro": float(np.mean(r)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": cm.tolist(),
        "class_names": list(class_names),
    }


def plot_confusion(cm: Sequence[Sequence[int]], class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix with counts, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k), dpi=120)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_json_atomic(obj: dict, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_classification_report(metrics: dict, out_dir: str | Path, title: str, notes: Sequence[str] = ()) -> Path:
    """Write ``metrics.json``, ``confusion_matrix.png`` and ``report.md`` into ``out_dir``; returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(metrics, out / "metrics.json")
    plot_confusion(metrics["confusion_matrix"], metrics["class_names"], out / "confusion_matrix.png", title)
    lines = [f"# {title}", ""]
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    lines += [
        "| windows | accuracy | F1-macro | F1-weighted | precision (macro) | recall (macro) |",
        "|---|---|---|---|---|---|",
        f"| {metrics['n']} | {metrics['accuracy']:.4f} | {metrics['f1_macro']:.4f} | {metrics['f1_weighted']:.4f} "
        f"| {metrics['precision_macro']:.4f} | {metrics['recall_macro']:.4f} |",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for name, m in metrics["per_class"].items():
        lines.append(f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines += ["", "![confusion matrix](confusion_matrix.png)", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
