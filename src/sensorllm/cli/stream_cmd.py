"""``sensorllm stream``: live recognition on a sensor stream (stdin, a followed file or a replayed recording).

One output line per decision (every ``--hop`` samples once a full window has arrived), flushed at once; a
summary (decisions, latency median/p95, real-time factor) goes to stderr at the end. The logic lives in
:mod:`sensorllm.serve.stream` and :mod:`sensorllm.serve.stream_io`; this module only parses arguments and writes lines. See docs/streaming.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Callable, TextIO

from sensorllm.datasets.spec import DataError
from sensorllm.serve.stream import Decision

from .recording_input import add_channel_args


def _writer(fmt: str, out: TextIO, class_names: list[str], smooth: bool, all_probs: bool
            ) -> Callable[[Decision], None]:
    """A function writing one decision as a CSV row (header first) or a JSON line, flushed."""
    if fmt == "jsonl":
        def emit_json(d: Decision) -> None:
            row: dict = {"decision": d.index, "start_sample": d.start_sample, "end_sample": d.end_sample,
                         "start_s": d.start_s, "end_s": d.end_s, "label": d.label, "prob": d.prob}
            if smooth:
                row.update(smooth_label=d.smooth_label, smooth_prob=d.smooth_prob)
            if all_probs:
                row["probs"] = dict(zip(class_names, d.probs, strict=True))
            row["latency_ms"] = round(d.latency_ms, 3)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
        return emit_json

    w = csv.writer(out, lineterminator="\n")
    header = ["decision", "start_sample", "end_sample", "start_s", "end_s", "label", "prob"]
    header += ["smooth_label", "smooth_prob"] if smooth else []
    header += [f"p_{name}" for name in class_names] if all_probs else []
    w.writerow(header + ["latency_ms"])
    out.flush()

    def emit_csv(d: Decision) -> None:
        row = [d.index, d.start_sample, d.end_sample, f"{d.start_s:.4f}", f"{d.end_s:.4f}", d.label,
               f"{d.prob:.6f}"]
        if smooth:
            row += [d.smooth_label, f"{d.smooth_prob:.6f}"]
        if all_probs:
            row += [f"{p:.6f}" for p in d.probs]
        w.writerow(row + [f"{d.latency_ms:.1f}"])
        out.flush()
    return emit_csv


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _stream(args: argparse.Namespace) -> int:
    import torch

    from sensorllm.infer.artifact import inspect_model, load_model
    from sensorllm.serve.input_checks import check_window, enforce_input
    from sensorllm.serve.recording import parse_channel_map
    from sensorllm.serve.stream import StreamClassifier, format_summary, make_smoother
    from sensorllm.serve.stream_io import CsvRowParser, follow_lines, replay, run_stream, text_lines
    from sensorllm.serve.units import check_input_units, enforce

    from .recording_input import check_recording_file, read_recording_file

    if args.no_follow and not args.follow:
        raise ValueError("--no-follow only applies to --follow FILE")
    if args.speed is not None and not args.replay:
        raise ValueError("--speed only applies to --replay FILE")
    for f in (args.follow, args.replay):
        if f and not Path(f).is_file():  # before the slow model load
            raise DataError(f"missing file {f}")
    if args.threads:
        torch.set_num_threads(args.threads)
    smoother = make_smoother(args.smooth, args.smooth_alpha, args.smooth_n)  # validates before the slow load
    channel_map = parse_channel_map(args.channel_map)
    info = inspect_model(args.model)  # one line for anything that is not a classifier directory
    info.require_classifier("stream")
    info.require_windowing()
    check_first, rec = None, None
    if args.replay:  # a recorded file: check it as a whole, before the model loads
        args.labels_column = None if args.timeline else ""  # true labels only for the timeline
        rec = read_recording_file(args, args.replay, info, _log)
        if len(rec.segments) > 1:
            _log(f"warning: {args.replay} holds {len(rec.segments)} recordings (recording/subject columns) but a "
                 "stream is one recording: windows will span them; `sensorllm predict` windows each on its own")
        check_recording_file(args, rec, info, "stream", _log, stream=True)
    else:  # live input: check the first complete window before it is classified
        for note in info.notes:
            _log(f"note: {note}")
        source = args.follow or "<stdin>"

        def check_first(w) -> None:
            where = f"{source} (first window)"
            enforce_input(check_window(w, info, where), args.force, _log, "stream")
            enforce(check_input_units(w, info), where, args.force, _log, "stream")

    model = load_model(info, args.device or "cpu", command="stream")
    for note in model.notes:
        if note not in info.notes:
            _log(f"note: {note}")
    clf = StreamClassifier(model, hop=args.hop, smoother=smoother, batch_size=args.batch_size,
                           first_window_check=check_first)
    print(f"stream: {info.description} ({info.path}); window {clf.window} samples ({clf.window / clf.rate_hz:g} s "
          f"at {clf.rate_hz:g} Hz), hop {clf.hop} samples, channels {clf.channel_names}", file=sys.stderr,
          flush=True)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    decisions: list[Decision] = []
    try:
        write = _writer(args.format, out, clf.class_names, smoother is not None, args.all_probs)

        def emit(d: Decision) -> None:
            write(d)
            if args.timeline:
                decisions.append(d)

        try:
            if args.replay:
                summary = replay(clf, args.replay, 1.0 if args.speed is None else args.speed, emit,
                                 channel_map=channel_map)
            elif args.follow:
                lines = follow_lines(args.follow, follow=not args.no_follow, idle_timeout=args.idle_timeout,
                                     poll_s=args.poll)
                summary = run_stream(clf, lines, CsvRowParser(clf.channel_names, args.follow, channel_map), emit)
            else:
                summary = run_stream(clf, text_lines(sys.stdin),
                                     CsvRowParser(clf.channel_names, "<stdin>", channel_map),
                                     emit)
        except KeyboardInterrupt:
            print(format_summary(clf.stats.summary()) + " (interrupted)", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other CLI tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
            print(format_summary(clf.stats.summary()) + " (output closed)", file=sys.stderr)
            return 0
    finally:
        if args.out:
            out.close()
    if clf.samples_seen < clf.window:
        print(f"stream: only {clf.samples_seen} samples arrived, fewer than one window ({clf.window}): "
              "no decision", file=sys.stderr)
    print(format_summary(summary), file=sys.stderr)
    if args.timeline:
        from sensorllm.serve.timeline import panel_from_decisions, write_timeline

        source = args.replay or args.follow or "<stdin>"
        panel = panel_from_decisions(decisions, clf.class_names, Path(source).name + (
            f" (smoothed: {args.smooth})" if smoother is not None else ""), clf.rate_hz,
            None if rec is None else rec.labels)
        (path, _), = write_timeline([panel], clf.class_names, args.timeline, f"{info.name}: stream")
        print(f"stream: timeline of {len(decisions)} decisions: {path}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stream", help="live recognition: a label every --hop samples from stdin, a followed "
                       "file or a replayed recording", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="Stage-2 SensorLLM run directory (with model/) or checkpoint directory, or a `sensorllm "
                        "baseline` run directory")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--follow", metavar="FILE", help="tail a CSV file that is being appended to "
                     "(default input: CSV on stdin)")
    src.add_argument("--replay", metavar="FILE", help="replay a recorded CSV at --speed × real time")
    p.add_argument("--no-follow", action="store_true", help="with --follow: stop at end of file")
    p.add_argument("--idle-timeout", type=float, default=10.0,
                   help="with --follow: stop after this many seconds without new data (default 10)")
    p.add_argument("--poll", type=float, default=0.05,
                   help="with --follow: polling interval in s (default 0.05)")
    p.add_argument("--speed", type=float, help="with --replay: × real time at the model's rate; 0 = as fast "
                   "as possible (default 1)")
    p.add_argument("--hop", type=int, help="samples between decisions (default: the training stride, else "
                   "window/2)")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--smooth", choices=["none", "ema", "vote"], default="none",
                   help="ema: moving average of probabilities; vote: majority of the last --smooth-n labels")
    p.add_argument("--smooth-alpha", type=float, default=0.3, help="EMA weight of the newest decision")
    p.add_argument("--smooth-n", type=int, default=5, help="decisions in the majority vote")
    p.add_argument("--all-probs", action="store_true", help="also write every class probability")
    p.add_argument("--out", help="write decisions here instead of stdout")
    p.add_argument("--batch-size", type=int, default=8, help="windows per model call when several are ready")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--device", help="torch device for the model (default: the CPU)")
    p.add_argument("--timeline", metavar="PNG", help="at the end, draw the decisions (label and probability, "
                   "smoothed when --smooth) over time into this image; with --replay of a file with a label "
                   "column (names, codes or indices), its true labels beside them")
    add_channel_args(p.add_argument_group("input columns and checks"), "stream")
    p.set_defaults(func=_stream)
