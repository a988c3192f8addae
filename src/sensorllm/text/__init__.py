"""Annotation-free sensor-language texts (SensorLLM §3): trend segmentation, Stage-1 trend QA,
Stage-2 statistics/trend/correlation texts and a parser that reads trend texts back.

Quick use::

    import numpy as np
    from sensorllm.text import segment_trends, stage1_qa, stage2_text, parse_trend_answer, record_rng

    segs = segment_trends(x, rate_hz=50)                       # exact (paper) semantics
    qa = stage1_qa(x, channel_spec, 50, record_rng(0, 1, "train", 17, 0))
    parsed = parse_trend_answer(qa["answer"] + "\\n\\n" + qa["summary"])

See ``docs/text.md`` for the texts, both trend modes and the JSONL written by ``sensorllm qa``.
"""

from .numbers import fix_articles, indefinite_article, number_to_words, with_article, words_to_number
from .parse import (
    ParsedAnswer,
    answer_weight_spans,
    end_time_spans,
    parse_summary,
    parse_trend_answer,
    score_answer,
    trend_code,
    trend_word_spans,
)
from .segments import DECREASE, INCREASE, STEADY, TREND_KEYS, Segments, SegmentTable, format_time
from .stage1 import (
    iter_stage1_records,
    record_rng,
    render_number,
    stage1_qa,
    stage1_question,
    stage1_text,
    trend_answer,
    trend_summary,
)
from .stage2 import (
    PREPROCESS_TYPES,
    assemble_text,
    correlation_matrix,
    correlation_strength,
    correlation_text,
    iter_stage2_records,
    stage2_pieces,
    stage2_question,
    stage2_text,
    statistics_text,
    trend_text,
    window_pieces,
)
from .trend import DEFAULT_MIN_DURATION, DEFAULT_TOL, segment_batch, segment_trends, segment_windows

__all__ = [
    "DECREASE", "STEADY", "INCREASE", "TREND_KEYS", "DEFAULT_TOL", "DEFAULT_MIN_DURATION",
    "Segments", "SegmentTable", "segment_trends", "segment_batch", "segment_windows", "format_time",
    "record_rng", "render_number", "stage1_qa", "stage1_question", "stage1_text", "trend_answer",
    "trend_summary", "iter_stage1_records",
    "PREPROCESS_TYPES", "stage2_text", "stage2_pieces", "stage2_question", "statistics_text",
    "correlation_text", "correlation_matrix", "correlation_strength", "trend_text", "assemble_text",
    "iter_stage2_records", "window_pieces",
    "ParsedAnswer", "parse_trend_answer", "parse_summary", "score_answer", "trend_code", "trend_word_spans",
    "end_time_spans", "answer_weight_spans",
    "number_to_words", "words_to_number", "indefinite_article", "with_article", "fix_articles",
]
