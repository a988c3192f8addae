"""``sensorllm datasets``: print the dataset registry as a table."""

from __future__ import annotations

import argparse

from sensorllm.datasets import get_dataset_spec, list_datasets
from sensorllm.datasets.spec import DatasetSpec


def _fmt_subjects(subs: tuple[str, ...]) -> str:
    if not subs:
        return "fixed by files"
    if len(subs) > 10:
        return f"{subs[0]}..{subs[-1]} ({len(subs)})"
    return " ".join(subs)


def registry_table(specs: list[DatasetSpec]) -> str:
    cols = ["name", "channels", "rate Hz", "classes", "stage-2 win/stride", "stage-1 range", "test subjects"]
    rows = []
    for s in specs:
        rate = f"{s.raw_rate_hz:g}->{s.rate_hz:g}" if s.raw_rate_hz != s.rate_hz else f"{s.rate_hz:g}"
        units = sorted({c.unit for c in s.channels})
        rows.append([
            s.name, f"{len(s.channels)} ({', '.join(units)})", rate, str(s.num_classes),
            f"{s.window}/{s.stride}", f"{s.stage1_window[0]}-{s.stage1_window[1]}", _fmt_subjects(s.test_subjects),
        ])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(r) for r in rows])


def run(args: argparse.Namespace) -> int:
    names = args.names or list_datasets()
    specs = [get_dataset_spec(n) for n in names]
    print(registry_table(specs))
    if args.verbose:
        for s in specs:
            print(f"\n{s.name}: {s.title}\n  raw layout: {s.raw_layout}\n  download: {s.download}")
            print(f"  channels: {', '.join(f'{c.name} [{c.unit}]' for c in s.channels)}")
            print(f"  classes: {', '.join(f'{c.raw_id}={c.name}' for c in s.classes)}")
            if s.notes:
                print(f"  notes: {s.notes}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the registered datasets", description=__doc__)
    p.add_argument("names", nargs="*", help="only these datasets")
    p.add_argument("-v", "--verbose", action="store_true", help="also print layout, channels, classes")
    p.set_defaults(func=run)
