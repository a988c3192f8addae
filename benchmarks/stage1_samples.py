"""What the Stage-1 descriptions of a probe get right: the first segment's trend, and how many segment lines.

Reads the ``samples.jsonl`` of Stage-1 runs (the validation windows a run describes after training, with the
reference answer) and, per run, counts the descriptions whose first segment line names the reference's first
trend, and those with fewer, as many and more segment lines than the reference. The first trend needs one
reading of the sensor tokens near the window's start; the number of lines needs the change points.

    python benchmarks/stage1_samples.py benchmarks/records/stage1-probe/oracle-tokens-ttw10-seed0 ...

Prints one line per run (``--json FILE`` also writes them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sensorllm.text import parse_trend_answer


def summarise(samples: Path) -> dict:
    rows = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    first = fewer = same = more = 0
    counts = []
    for r in rows:
        got, ref = parse_trend_answer(r["generated"]), parse_trend_answer(r["reference"])
        first += bool(got.segments and ref.segments and got.segments[0][2] == ref.segments[0][2])
        n, m = len(got.segments), len(ref.segments)
        fewer, same, more = fewer + (n < m), same + (n == m), more + (n > m)
        counts.append([n, m])
    return {"n": len(rows), "first_trend_right": first, "fewer_lines": fewer, "same_lines": same,
            "more_lines": more, "lines_generated_reference": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="folders holding a samples.jsonl")
    ap.add_argument("--json", type=Path, help="write the summaries here")
    args = ap.parse_args()
    out = {}
    for run in args.runs:
        s = out[str(run)] = summarise(run / "samples.jsonl")
        print(f"{run.name}: first trend right {s['first_trend_right']}/{s['n']}; segment lines fewer / same / more "
              f"than the reference {s['fewer_lines']} / {s['same_lines']} / {s['more_lines']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
