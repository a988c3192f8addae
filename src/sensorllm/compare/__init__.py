"""Compare methods on a prepared dataset (``sensorllm compare``): registered baselines and SensorLLM variants,
over seeds, each model selected on the validation split and scored once on the test split; resumable.

Everything is written under the output folder ``OUT`` and nowhere else (the LLM loader's own model cache
aside, as for any SensorLLM run)::

    OUT/results.md  results.csv  results.json  results.png   the table (rewritten after every finished run)
    OUT/<method>/seed<N>/                                      one run: metrics.json (test, written last),
                                                               log.txt, and the run's own files
    OUT/stage1-<settings>/seed<N>/                             Stage-1 models, shared by the SensorLLM rows
                                                               with the same Stage-1 settings
    OUT/embcache/  OUT/embcache-chronos-feats/                 frozen-encoder embedding caches

Parts: :mod:`.methods` (what can be compared), :mod:`.runner` (running the jobs, resuming), :mod:`.report`
(rows, tables, output files). Only :mod:`sensorllm.cli` imports this package; ``benchmarks/results.py`` builds
the project's results table (``docs/results.md``) with it.
"""

from __future__ import annotations

from .methods import SENSORLLM_METHODS, Method, config_pair, known_methods, resolve_method, resolve_methods
from .report import COLUMNS, USER_COLUMNS, Column, Row, column, markdown_table, summarize, write_outputs
from .runner import (BASELINE_CACHE, SENSORLLM_CACHE, CompareSettings, Comparison, collect, metrics_path,
                     run_comparison, run_folder, stage1_folder)

__all__ = [
    "Method", "SENSORLLM_METHODS", "known_methods", "resolve_method", "resolve_methods", "config_pair", "Row",
    "Column", "COLUMNS", "USER_COLUMNS", "column", "summarize", "markdown_table", "write_outputs",
    "CompareSettings", "Comparison", "run_comparison", "run_folder", "metrics_path", "collect",
    "stage1_folder", "BASELINE_CACHE", "SENSORLLM_CACHE",
]
