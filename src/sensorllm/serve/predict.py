"""``sensorllm predict`` and ``sensorllm describe`` on raw recordings of any length.

Input: CSV / Parquet (one column per channel, named as the model's channels; other columns ignored) or NPZ
(one array per channel name; no pickled objects). Channels are matched by NAME and reordered; missing ones
are an error listing expected and found. Short NaN gaps are interpolated, windows touching long gaps are
skipped and reported.

Recordings: a file may hold several recordings one after the other. With a recording column (``recording``
by default, ``--recording-column``) and/or a subject column (``subject``, ``--subject-column``), a new
recording starts wherever either value changes from one row to the next, and windows never span two
recordings: each block of rows is windowed (and its gaps repaired) on its own, its windows are numbered from 0
and its ``start_s``/``end_s`` count from its first row. A recording id that appears in two separate blocks is
windowed block by block (and reported).

Labels: with a label column (``label`` by default, ``--labels-column``) the windows are scored against it.
Values are the model's class names or its class indices ``0..K-1`` (all one or all the other; empty cells are
unlabelled samples); anything else is an error naming the value and its row. A window's true label follows one
of the :data:`LABEL_RULES`, stated in the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.datasets.spec import ChannelSpec, DataError

from .models import Classifier, SensorLLMClassifier

__all__ = [
    "LABEL_RULES",
    "LabelledInput",
    "Prediction",
    "Segment",
    "describe_file",
    "parse_labels",
    "predict_file",
    "predict_input",
    "read_columns",
    "read_input",
    "read_recording",
    "summary_lines",
    "window_item",
    "write_predict_report",
]

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


# ---- reading -----------------------------------------------------------------------------------------------


def read_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Every column of a CSV/Parquet file (or array of an NPZ file) by name, as read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file {path}")
    name = path.name.lower()
    try:
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                return {k: np.asarray(z[k]).ravel() for k in z.files}
        if name.endswith(".parquet"):
            df = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(path)
        else:
            raise DataError(f"{path}: unsupported file type (use .csv, .parquet or .npz)")
    except (ValueError, OSError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: cannot read ({exc})") from exc
    return {str(c): df[c].to_numpy() for c in df.columns}


def _channel_matrix(cols: dict[str, np.ndarray], channels: list[str], path: Path) -> np.ndarray:
    missing = [c for c in channels if c not in cols]
    if missing:
        raise DataError(f"{path}: missing channels {missing}; the model expects {channels}, found {sorted(cols)}")
    out = np.empty((len(cols[channels[0]]), len(channels)), dtype=np.float64)
    for j, c in enumerate(channels):
        raw = np.asarray(cols[c]).ravel()
        v = pd.to_numeric(pd.Series(raw), errors="coerce")
        bad = v.isna() & pd.Series(raw).notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: channel {c!r}, row {i + 1}: non-numeric value {raw[i]!r}")
        if len(v) != len(out):
            raise DataError(f"{path}: channel {c!r} has {len(v)} samples, {channels[0]!r} has {len(out)}")
        out[:, j] = v.to_numpy(dtype=np.float64)
    return out


def read_recording(path: str | Path, channels: list[str]) -> np.ndarray:
    """``(N, C)`` float64 in ``channels`` order from a CSV/Parquet/NPZ file."""
    return _channel_matrix(read_columns(path), list(channels), Path(path))


@dataclass
class Segment:
    """One recording of an input file: rows ``[start, end)``, with its recording and subject ids (``None`` when
    the file has no such column)."""

    recording: str | None
    subject: str | None
    start: int
    end: int

    @property
    def name(self) -> str:
        parts = [p for p in (self.recording, None if self.subject is None else f"subject {self.subject}") if p]
        return " / ".join(parts) if parts else "(whole file)"


@dataclass
class LabelledInput:
    """A recording file read for prediction: samples ``x`` ``(N, C)`` in the model's channel order (raw, NaN
    kept), its recordings (``segments``), and the per-sample class index ``labels`` (``-1``: unlabelled) when
    it has a label column."""

    path: Path
    x: np.ndarray
    segments: list[Segment]
    labels: np.ndarray | None = None
    recording_column: str | None = None
    subject_column: str | None = None
    labels_column: str | None = None
    label_format: str | None = None
    notes: list[str] = field(default_factory=list)


def _pick_column(cols: dict, given: str | None, default: str, what: str, path: Path) -> str | None:
    """``given`` (an error when absent; ``""`` = do not use one), else ``default`` when the file has it."""
    if given is None:
        return default if default in cols else None
    if given == "":
        return None
    if given not in cols:
        raise DataError(f"{path}: no {what} column {given!r}; the file has {sorted(cols)}")
    return given


def _ids(values: np.ndarray, column: str, path: Path) -> np.ndarray:
    s = pd.Series(np.asarray(values).ravel())
    empty = s.isna() | s.astype(str).str.strip().eq("")
    if empty.any():
        raise DataError(f"{path}: column {column!r} is empty at row {int(np.flatnonzero(empty.to_numpy())[0]) + 1}"
                        "; every row needs its recording/subject id")
    if s.dtype.kind == "f" and np.all(np.mod(s.to_numpy(), 1) == 0):
        s = s.astype(np.int64)
    return s.astype(str).str.strip().to_numpy()


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


def read_input(path: str | Path, channels: Sequence[str], class_names: Sequence[str] = (),
               recording_column: str | None = None, subject_column: str | None = None,
               labels_column: str | None = None) -> LabelledInput:
    """Read a recording file for :func:`predict_input`: the channels, its recordings and its labels.

    Column arguments: ``None`` = the default name (``recording``, ``subject``, ``label``) when the file has
    it; a name = that column (an error when absent); ``""`` = none. Labels are parsed against
    ``class_names`` (:func:`parse_labels`)."""
    path = Path(path)
    cols = read_columns(path)
    x = _channel_matrix(cols, list(channels), path)
    n = len(x)
    rec_col = _pick_column(cols, recording_column, "recording", "recording", path)
    subj_col = _pick_column(cols, subject_column, "subject", "subject", path)
    lab_col = _pick_column(cols, labels_column, "label", "label", path)
    for c in (rec_col, subj_col, lab_col):
        if c is not None and c in channels:
            raise DataError(f"{path}: column {c!r} is one of the model's channels; it cannot also be the "
                            "recording, subject or label column")
    rec = _ids(cols[rec_col], rec_col, path) if rec_col else None
    subj = _ids(cols[subj_col], subj_col, path) if subj_col else None
    change = np.zeros(max(n - 1, 0), dtype=bool)
    for ids in (rec, subj):
        if ids is not None and n > 1:
            change |= ids[1:] != ids[:-1]
    bounds = [0, *(np.flatnonzero(change) + 1).tolist(), n]
    segments = [Segment(None if rec is None else str(rec[a]), None if subj is None else str(subj[a]), a, b)
                for a, b in pairwise(bounds) if b > a]
    notes = []
    blocks = Counter((s.recording, s.subject) for s in segments)
    repeated = [k for k, v in blocks.items() if v > 1]
    if repeated:
        show = ", ".join(Segment(r, s, 0, 0).name for r, s in repeated[:5])
        notes.append(f"{len(repeated)} recording id(s) appear in separate blocks of rows ({show}"
                     f"{', …' if len(repeated) > 5 else ''}): each block is windowed on its own")
    labels = fmt = None
    if lab_col is not None:
        if not class_names:
            raise DataError(f"{path}: a label column but no class names to score against")
        labels, fmt = parse_labels(cols[lab_col], class_names, path, lab_col)
    return LabelledInput(path, x, segments, labels, rec_col, subj_col, lab_col, fmt, notes)


# ---- prediction ----------------------------------------------------------------------------------------------


def window_item(w: np.ndarray, index: int, channels: list[ChannelSpec], rate: float, extra: dict):
    """The Stage-2 item of window number ``index`` of a recording (``w``: ``(window, C)`` in channel order):
    its statistics text uses the per-window seed ``record_rng(text_seed, 2, "predict", index)`` and the text
    settings the model was trained with, so ``predict`` and ``stream`` give a window the same text."""
    from sensorllm.text import record_rng, stage2_text
    from sensorllm.text.items import Stage2Item

    text = stage2_text(w, channels, rate, record_rng(int(extra.get("text_seed", 0)), 2, "predict", index),
                       extra.get("preprocess_type") or "smry+Q", mode=extra.get("trend_mode", "exact"),
                       stat_digits=extra.get("stat_digits"))["text"]
    return Stage2Item(index=index, series={c.name: w[:, j] for j, c in enumerate(channels)}, text=text,
                      label=None)  # type: ignore[arg-type]


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


@dataclass
class Prediction:
    """What :func:`predict_input` returns: one ``frame`` row per window (``recording``/``subject`` when the
    file has those columns, ``window``, ``start_s``, ``end_s``, ``label``, ``p_<class>``, and with labels
    ``true_label`` and ``label_purity``), per-recording counts (``recordings``), and for scoring the true
    (``y_true``, ``-1`` = not scored) and predicted class of every window."""

    frame: pd.DataFrame
    recordings: list[dict]
    skipped_windows: int
    window: int
    stride: int
    label_rule: str | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None


def predict_input(clf: Classifier, inp: LabelledInput, stride: int | None = None, batch_size: int | None = None,
                  label_rule: str = "pure") -> Prediction:
    """Classify every sliding window of every recording of ``inp`` (windows never cross recordings).

    Raises:
        DataError: no recording is as long as one window.
    """
    if label_rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {label_rule!r}; known: {', '.join(LABEL_RULES)}")
    from sensorllm.datasets.windows import repair_gaps

    window, rate = clf.window, clf.rate_hz
    stride = int(stride or clf.stride)
    if stride < 1:
        raise ValueError(f"--stride must be ≥ 1 sample, got {stride}")
    if not any(s.end - s.start >= window for s in inp.segments):
        n = max((s.end - s.start for s in inp.segments), default=0)
        what = "samples" if len(inp.segments) == 1 else "samples in its longest recording"
        raise DataError(f"{inp.path}: {n} {what}, shorter than the model's window of {window} samples "
                        f"({window / rate:.2f} s at {rate:g} Hz)")
    refs: list[tuple[int, int, int]] = []  # (segment, start within it, window number within it)
    xs, recs, skipped = [], [], 0
    for si, seg in enumerate(inp.segments):
        n = seg.end - seg.start
        info = {"recording": seg.recording, "subject": seg.subject, "name": seg.name, "rows": n, "windows": 0,
                "skipped": 0}
        recs.append(info)
        if n < window:
            xs.append(None)
            continue
        x, valid, _ = repair_gaps(inp.x[seg.start:seg.end], clf.max_gap)
        xs.append(x)
        starts = np.arange(0, n - window + 1, stride)
        keep = [int(s) for s in starts if valid[s:s + window].all()]
        info["windows"], info["skipped"] = len(keep), len(starts) - len(keep)
        skipped += len(starts) - len(keep)
        refs += [(si, s, i) for i, s in enumerate(keep)]
    k = len(clf.class_names)
    bs = int(batch_size or clf.default_batch_size)
    chunk = bs * max(1, 1024 // bs)  # bounded memory; whole batches, as one call would make them
    probs = [clf.predict_proba(np.stack([xs[si][s:s + window] for si, s, _ in refs[a:a + chunk]]),
                               [i for _, _, i in refs[a:a + chunk]], bs) for a in range(0, len(refs), chunk)]
    p = np.concatenate(probs) if probs else np.zeros((0, k))
    labels = clf.class_names
    cols: dict[str, object] = {}
    if inp.recording_column:
        cols["recording"] = [inp.segments[si].recording for si, _, _ in refs]
    if inp.subject_column:
        cols["subject"] = [inp.segments[si].subject for si, _, _ in refs]
    starts_s = np.array([s for _, s, _ in refs], dtype=np.float64)
    cols.update({"window": [i for _, _, i in refs], "start_s": starts_s / rate, "end_s": (starts_s + window) / rate,
                 "label": [labels[j] for j in p.argmax(1)] if len(refs) else []})
    df = pd.DataFrame(cols)
    for j, name in enumerate(labels):
        df[f"p_{name}"] = p[:, j] if len(refs) else []
    out = Prediction(df, recs, skipped, window, stride)
    if inp.labels is not None:
        y_true, purity = np.full(len(refs), -1, dtype=np.int64), np.zeros(len(refs))
        for r, (si, s, _) in enumerate(refs):
            seg = inp.segments[si]
            y_true[r], purity[r] = _window_label(inp.labels[seg.start + s: seg.start + s + window], label_rule, k)
        df["true_label"] = [labels[y] if y >= 0 else "" for y in y_true]
        df["label_purity"] = np.round(purity, 4)
        out.label_rule, out.y_true, out.y_pred = label_rule, y_true, p.argmax(1) if len(refs) else np.zeros(0, int)
    df.attrs["skipped_windows"] = skipped
    return out


def summary_lines(pred: Prediction, inp: LabelledInput, clf: Classifier, max_listed: int = 12) -> list[str]:
    """What ``sensorllm predict`` did, for stderr: recordings and windows per recording."""
    n = len(pred.recordings)
    how = ([f"column {inp.recording_column!r}"] if inp.recording_column else []) + \
          ([f"subjects from {inp.subject_column!r}"] if inp.subject_column else [])
    src = (f" ({', '.join(how)}; windows never span two)" if how
           else " (no recording/subject column: the whole file is one stream)")
    total = int(sum(r["windows"] for r in pred.recordings))
    lines = [(f"predict: {n} recording{'s' if n != 1 else ''}{src}; {total} windows of {pred.window} samples "
              f"({pred.window / clf.rate_hz:g} s at {clf.rate_hz:g} Hz), stride {pred.stride}")]
    if how:
        parts = [f"{r['name']}: {r['windows']}" + (f" (+{r['skipped']} skipped)" if r["skipped"] else "")
                 + (" (shorter than a window)" if r["rows"] < pred.window else "") for r in pred.recordings]
        more = f", … {len(parts) - max_listed} more" if len(parts) > max_listed else ""
        lines.append("predict: windows per recording: " + ", ".join(parts[:max_listed]) + more)
    return lines


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


# ---- compatibility and describe ---------------------------------------------------------------------------------


def predict_file(model, meta: dict | None, path: str | Path, stride: int | None = None, batch_size: int = 8,
                 precision: str | None = None, label_rule: str = "pure") -> pd.DataFrame:
    """Label and class probabilities for every sliding window of a recording file (all its recordings; see the
    module docs). ``model``: a SensorLLM with its checkpoint ``meta``, or any
    :class:`~sensorllm.serve.models.Classifier` (``meta=None``). ``precision``: SensorLLM only, ``auto``/``None``
    (the training's), ``fp32`` or ``bf16`` (:func:`~sensorllm.eval.classify.training_precision`)."""
    clf = model if meta is None else SensorLLMClassifier(model, meta, precision)
    inp = read_input(path, clf.channels, clf.class_names)
    return predict_input(clf, inp, stride, batch_size, label_rule).frame


def describe_file(model, meta: dict, path: str | Path, channel: str | None = None, start: int = 0,
                  length: int | None = None, max_new_tokens: int = 256) -> dict:
    """The Stage-1 model's trend description of one channel of one window of a recording."""
    from sensorllm.eval.describe import describe_items
    from sensorllm.text import record_rng, stage1_question
    from sensorllm.text.items import Stage1Item

    extra = meta["extra"]
    spec = extra["dataset"]
    names = [c["name"] for c in spec["channels"]]
    x = read_recording(path, names)
    channel = channel or names[0]
    if channel not in names:
        raise DataError(f"unknown channel {channel!r}; the model knows {names}")
    _, hi = spec["stage1_window"]
    length = int(length or min(hi, len(x) - start))
    if length < 1 or start < 0 or start + length > len(x):
        raise DataError(f"{path}: window [{start}, {start + length}) is outside the {len(x)} samples")
    series = x[start : start + length, names.index(channel)]
    if not np.isfinite(series).all():
        raise DataError(f"{path}: channel {channel!r} has NaN/inf in samples {start}..{start + length - 1}")
    rate = float(extra["rate_hz"])
    q = stage1_question(record_rng(int(extra.get("text_seed", 0)), 1, "describe", 0))
    item = Stage1Item(index=0, channel=channel, series=series, question=q, answer="", rate_hz=rate)
    text = describe_items(model, [item], 1, max_new_tokens)[0]
    return {"channel": channel, "start_s": start / rate, "end_s": (start + length) / rate, "question": q,
            "description": text}

