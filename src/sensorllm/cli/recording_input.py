"""What ``predict``, ``evaluate`` (on a recording file) and ``stream`` share: the options that say how a recording
file is read (recording, subject, label and time columns, ``--channel-map``, ``--force``), reading it with
every check that can run before the model loads, and predicting with a report (metrics, timeline, input
warnings)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from sensorllm.datasets.spec import DataError

RECORDING_SUFFIXES = (".csv", ".csv.gz", ".txt", ".parquet", ".npz")


def is_recording_file(path: str | Path) -> bool:
    """A CSV/Parquet/NPZ file (``evaluate --data`` then scores it as ``predict`` does), not a prepared dataset."""
    p = Path(path)
    return p.is_file() and p.name.lower().endswith(RECORDING_SUFFIXES)


def add_channel_args(g: argparse._ActionGroup, command: str) -> None:
    """``--channel-map``, ``--time-column`` and ``--force``."""
    g.add_argument("--channel-map", metavar="COL=CHANNEL,...",
                   help="rename the file's columns to the model's channel names, e.g. ax=x_acc,ay=y_acc,az=z_acc "
                        "(the unit and input checks run on the mapped channels)")
    g.add_argument("--time-column", help="column of sample times, for the sampling-rate check (default: the first "
                   "of time, timestamp, time_s, t in the file; '' = none). Numbers are seconds unless the name "
                   "ends in _ms/_us/_ns; dates are read as dates")
    g.add_argument("--force", action="store_true", help=f"{command} even when the input's magnitude suggests other "
                   "units than the model's (e.g. m/s^2 for g), its time column another sampling rate, or no channel "
                   "moves: a warning instead of an error")


def add_recording_args(g: argparse._ActionGroup, command: str) -> None:
    """The recording, subject and label columns, the label rule, and :func:`add_channel_args`."""
    g.add_argument("--recording-column", help="column of recording ids: windows never span two recordings "
                   "(default: 'recording' when the file has it; '' = none)")
    g.add_argument("--subject-column", help="column of subject ids, also a recording boundary where it changes "
                   "(default: 'subject' when present; '' = none)")
    g.add_argument("--labels-column", help="column of true labels (class names, class codes such as FEL, or class "
                   "indices) to score against (default: 'label' when present; '' = do not score)")
    g.add_argument("--label-rule", default="pure", choices=["pure", "majority", "center"],
                   help="a window's true label: pure (default: only windows whose samples all share one label "
                        "are scored), majority (the most common label), center (the centre sample's label)")
    add_channel_args(g, command)


def read_recording_file(args: argparse.Namespace, path: str | Path, info, log: Callable[[str], None]):
    """Read ``path`` for ``info``'s model: its channels after ``--channel-map``, recordings, labels (names, codes
    or indices) and time column (:func:`~sensorllm.serve.recording.read_input`); notes go to ``log``."""
    from sensorllm.serve.recording import parse_channel_map, read_input

    inp = read_input(path, info.channel_names, info.class_names, getattr(args, "recording_column", None),
                     getattr(args, "subject_column", None), getattr(args, "labels_column", None),
                     class_codes=info.class_codes, channel_map=parse_channel_map(args.channel_map),
                     time_column=args.time_column)
    for note in [*info.notes, *inp.notes]:
        log(f"note: {note}")
    return inp


def check_recording_file(args: argparse.Namespace, inp, info, command: str, log: Callable[[str], None],
                         stream: bool = False):
    """The input checks (:mod:`sensorllm.serve.input_checks`) and the unit check of a file read by
    :func:`read_recording_file`, before the model loads. Returns the checks and the warning lines (for the
    report).

    Raises:
        DataError: an input the model's labels would mean nothing for (unless ``--force``)."""
    from sensorllm.serve.input_checks import check_recording, enforce_input
    from sensorllm.serve.units import check_input_units, enforce

    checks = check_recording(inp, info, getattr(args, "stride", None) or getattr(args, "hop", None), stream=stream)
    for note in checks.notes:
        log(f"note: {note}")
    warnings = enforce_input(checks, args.force, log, command)
    unit_lines: list[str] = []

    def keep(line: str) -> None:
        log(line)
        if line.startswith("warning: "):
            unit_lines.append(line[len("warning: "):])

    enforce(check_input_units(inp.x, info), str(inp.path), args.force, keep, command)
    return checks, warnings + unit_lines


def read_checked(args: argparse.Namespace, path: str | Path, info, command: str, log: Callable[[str], None]):
    """:func:`read_recording_file` then :func:`check_recording_file`: the input, its checks and warning lines."""
    inp = read_recording_file(args, path, info, log)
    return (inp, *check_recording_file(args, inp, info, command, log))


def predict_and_report(args: argparse.Namespace, info, inp, checks, warnings: list[str], report_dir: Path | None,
                       log: Callable[[str], None], command: str = "predict"):
    """Load the model, predict every window of ``inp`` and, into ``report_dir`` (when given, or when ``inp`` has
    labels): the scoring report (labelled input), ``timeline.png`` (+ ``timeline-2.png``, ...) and
    ``input_checks.json``. Returns the :class:`~sensorllm.serve.predict.Prediction`, its classifier and the
    report (``None`` when nothing was scored)."""
    from sensorllm.eval.metrics import write_json_atomic
    from sensorllm.infer.artifact import load_model
    from sensorllm.serve.predict import predict_input, summary_lines
    from sensorllm.serve.report import write_predict_report
    from sensorllm.serve.timeline import panels_from_prediction, write_timeline

    clf = load_model(info, args.device, precision=args.precision, workers=args.workers, command=command)
    for note in clf.notes:
        if note not in info.notes:
            log(f"note: {note}")
    pred = predict_input(clf, inp, args.stride, args.batch_size, args.label_rule)
    for line in summary_lines(pred, inp, clf):
        log(line)
    if pred.skipped_windows:
        log(f"skipped {pred.skipped_windows} windows with long gaps of missing samples")
        warnings = [*warnings, f"skipped {pred.skipped_windows} windows with long gaps of missing samples"]
    report = None
    if report_dir is None:
        return pred, clf, report
    report_dir.mkdir(parents=True, exist_ok=True)
    if inp.labels is not None:
        report = write_predict_report(pred, inp, clf, report_dir, args.model, [*clf.notes, *(
            f"input warning: {w}" for w in warnings)], input_checks=checks.to_json())
        if report is None:
            log(f"{command}: no window has a label under rule {args.label_rule!r} (column {inp.labels_column!r}): "
                "nothing scored")
        else:
            m = json.loads((report.parent / "metrics.json").read_text())
            log(f"{command}: scored {m['windows_scored']} of {m['windows_total']} windows against column "
                f"{inp.labels_column!r} (rule {args.label_rule}): accuracy {m['accuracy']:.4f}, F1-macro "
                f"{m['f1_macro']:.4f}; report: {report}")
    write_json_atomic({"source": str(inp.path), "model": str(args.model), "issues": checks.to_json(),
                       "warnings": warnings, "notes": checks.notes}, report_dir / "input_checks.json")
    images = write_timeline(panels_from_prediction(pred, inp, info.class_names, info.rate_hz), info.class_names,
                            report_dir / "timeline.png", f"{info.name} on {inp.path.name}")
    log(f"{command}: timeline of {len(pred.recordings)} recording(s): " + ", ".join(str(f) for f, _ in images))
    return pred, clf, report


def need_labels(inp, path: str | Path, command: str) -> None:
    if inp.labels is None:
        raise DataError(f"{path}: no label column to score against (`sensorllm {command}` on a recording needs "
                        "one: 'label', or --labels-column NAME); `sensorllm predict` labels an unlabelled file")
