"""A comparison's rows and what is written from them: :func:`summarize` (one row from the per-seed test
metrics), :func:`markdown_table` (any choice of :class:`Column`), and :func:`write_outputs`
(``results.md``, ``results.csv``, ``results.json`` and ``results.png`` in the output folder).

Scores are in percent: mean ± sample standard deviation over the finished seeds (``ddof=1``, the convention of
every results table in the project; 0.0 for a single seed)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["Row", "Column", "COLUMNS", "USER_COLUMNS", "column", "summarize", "markdown_table", "write_outputs",
           "write_text_atomic"]


@dataclass
class Row:
    """One method's summary. ``f1_macro`` / ``accuracy``: (mean, sd) in percent over ``seeds``."""

    method: str
    seeds: list[int]
    seeds_asked: int
    f1_macro: tuple[float, float]
    accuracy: tuple[float, float]
    windows: list[int] = field(default_factory=list)  # test windows scored (distinct values over seeds)
    train_time_s: float | None = None  # mean over seeds
    trainable_params: int | None = None
    device: str = "cpu"
    kind: str = ""


def summarize(method: str, per_seed: Mapping[int, Mapping], seeds_asked: int, kind: str = "") -> Row | None:
    """The row of ``method`` from its finished seeds' test metrics (seed → ``metrics.json`` contents, in the
    order given); None when no seed finished."""
    ms = list(per_seed.values())
    if not ms:
        return None
    f1s = 100 * np.array([m["f1_macro"] for m in ms])
    accs = 100 * np.array([m["accuracy"] for m in ms])
    times = [m.get("train_time_s") for m in ms]
    ddof = 1 if len(ms) > 1 else 0  # the sample standard deviation; one seed has none (0.0)
    t = float(np.mean([np.nan if v is None else v for v in times]))
    return Row(method=method, seeds=list(per_seed), seeds_asked=seeds_asked,
               f1_macro=(float(f1s.mean()), float(f1s.std(ddof=ddof))),
               accuracy=(float(accs.mean()), float(accs.std(ddof=ddof))),
               windows=sorted({int(m["n"]) for m in ms if m.get("n") is not None}),
               train_time_s=None if math.isnan(t) else t, trainable_params=ms[0].get("trainable_params"),
               device=", ".join(sorted({str(m.get("device", "cpu")) for m in ms})), kind=kind)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], str]


def _pm(v: tuple[float, float]) -> str:
    return f"{v[0]:.1f} ± {v[1]:.1f}"


def _windows(r: Row) -> str:
    if not r.windows:
        return "n/a"
    return str(r.windows[0]) if len(r.windows) == 1 else f"{r.windows[0]}–{r.windows[-1]}"


COLUMNS: dict[str, Column] = {
    "method": Column("method", lambda r: r.method),
    "seeds": Column("seeds", lambda r: f"{len(r.seeds)}/{r.seeds_asked}"),
    "f1_macro": Column("test F1-macro (%)", lambda r: _pm(r.f1_macro)),
    "accuracy": Column("test accuracy (%)", lambda r: _pm(r.accuracy)),
    "windows": Column("test windows", _windows),
    "train_time": Column("train time (s)", lambda r: "n/a" if r.train_time_s is None else f"{r.train_time_s:.0f}"),
    "params": Column("trainable params", lambda r: "n/a" if r.trainable_params is None else str(r.trainable_params)),
    "device": Column("device", lambda r: r.device),
}
USER_COLUMNS = ("method", "seeds", "f1_macro", "accuracy", "windows", "train_time")


def column(key: str, header: str | None = None) -> Column:
    """A standard column (a ``COLUMNS`` key), optionally under another header."""
    c = COLUMNS[key]
    return c if header is None else Column(header, c.cell)


def markdown_table(rows: Sequence[Row], columns: Sequence[Column | str] = USER_COLUMNS) -> list[str]:
    """The lines of a Markdown table: a header, the separator and one line per row."""
    cols = [column(c) if isinstance(c, str) else c for c in columns]
    lines = ["| " + " | ".join(c.header for c in cols) + " |", "|" + "---|" * len(cols)]
    return lines + ["| " + " | ".join(c.cell(r) for c in cols) + " |" for r in rows]


def write_text_atomic(text: str, path: Path) -> None:
    """Write ``path`` through a temporary file, so a kill never leaves it half written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


CSV_FIELDS = ["method", "kind", "seeds_done", "seeds_asked", "f1_macro_pct", "f1_macro_pct_sd", "accuracy_pct",
              "accuracy_pct_sd", "test_windows", "train_time_s", "trainable_params", "device"]


def _summary_dict(r: Row) -> dict:
    return {"method": r.method, "kind": r.kind, "seeds_done": len(r.seeds), "seeds_asked": r.seeds_asked,
            "f1_macro_pct": round(r.f1_macro[0], 4), "f1_macro_pct_sd": round(r.f1_macro[1], 4),
            "accuracy_pct": round(r.accuracy[0], 4), "accuracy_pct_sd": round(r.accuracy[1], 4),
            "test_windows": _windows(r), "train_time_s": None if r.train_time_s is None else round(r.train_time_s, 1),
            "trainable_params": r.trainable_params, "device": r.device}


def _per_seed_dict(m: Mapping) -> dict:
    keep = ("f1_macro", "accuracy", "f1_weighted", "precision_macro", "recall_macro", "n", "train_time_s",
            "wall_time_s", "trainable_params", "device", "best_epoch", "val_f1_macro", "best_val_f1_macro")
    return {k: m[k] for k in keep if k in m}


def _plot(rows: Sequence[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * len(rows)), 3.6), dpi=120)
    w = 0.38
    for off, key, label in ((-w / 2, "f1_macro", "F1-macro"), (w / 2, "accuracy", "accuracy")):
        mean = [getattr(r, key)[0] for r in rows]
        sd = [getattr(r, key)[1] for r in rows]
        ax.bar(x + off, mean, w, yerr=sd, capsize=3, label=label)
    slant = len(rows) > 3 or max(len(r.method) for r in rows) > 14
    ax.set_xticks(x, [f"{r.method}\n({len(r.seeds)} seed{'s' if len(r.seeds) != 1 else ''})" for r in rows],
                  rotation=30 if slant else 0, ha="right" if slant else "center", fontsize=8)
    ax.set_ylabel("test score (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=9, pad=20)
    ax.legend(fontsize=8, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def write_outputs(out: Path, rows: Sequence[Row], per_seed: Mapping[str, Mapping[int, Mapping]], *,
                  dataset: str, data: str, seeds: Sequence[int], command: str = "", settings: Mapping | None = None,
                  failed: Sequence[Mapping] = (), pending: Sequence[str] = ()) -> dict[str, Path]:
    """Write ``results.md``, ``results.csv``, ``results.json`` and ``results.png`` (the last only when some
    row exists) into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"results.{k}" for k in ("md", "csv", "json", "png")}
    lines = [f"# Comparison on {dataset}", "",
             (f"Test scores on the test split of `{data}` (each model selected on the validation split), "
              "mean ± sample standard deviation over the seeds done (ddof 1; 0.0 for one seed), in percent. "
              "Train time: training with its validation, not the test scoring; a SensorLLM row adds its Stage 1 "
              "(a Stage-1 model shared by several rows counts in each)."), ""]
    lines += markdown_table(rows) if rows else ["No run has finished yet."]
    lines.append("")
    if failed:
        lines += ["Failed (see each run's `log.txt`):", ""]
        lines += [f"- {f['method']} seed {f['seed']}: {f['error']}" for f in failed]
        lines.append("")
    if pending:
        lines += [f"Not finished: {', '.join(pending)}.", ""]
    if command:
        lines += [f"Produced by `{command}` (resumable: run it again to finish what is missing).", ""]
    if rows:
        lines += ["![test F1-macro and accuracy](results.png)", ""]
    write_text_atomic("\n".join(lines), paths["md"])

    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in _summary_dict(r).items()})
    write_text_atomic(buf.getvalue(), paths["csv"])

    doc = {"about": "sensorllm compare: one entry per method with a finished seed; summary scores in percent "
                    "(mean, population sd over the finished seeds), per-seed values as each run's metrics.json "
                    "holds them (fractions)",
           "dataset": dataset, "data": data, "seeds": list(seeds), "command": command,
           "settings": dict(settings or {}),
           "methods": [{**_summary_dict(r), "seeds": r.seeds,
                        "per_seed": {str(s): _per_seed_dict(m) for s, m in per_seed.get(r.method, {}).items()}}
                       for r in rows],
           "failed": list(failed), "pending": list(pending)}
    write_text_atomic(json.dumps(doc, indent=1, default=str) + "\n", paths["json"])
    if rows:
        _plot(rows, paths["png"], f"{dataset}: test F1-macro and accuracy (mean ± sd over seeds)")
    else:
        paths.pop("png")
    return paths
