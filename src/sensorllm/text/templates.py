"""Phrasings, line formats and synonym sets of the generated texts.

Everything random in the texts is a choice among the tuples below, made with an explicit
``numpy.random.Generator``. The parser (:mod:`sensorllm.text.parse`) reads every format listed here; keep
the two in step (the property tests check that every generated answer parses back).

Placeholders: ``{data}`` data noun, ``{s}``/``{e}`` segment start/end time (already formatted, no unit),
``{w}`` trend word, ``{W}`` capitalised trend word, ``{a_w}`` trend word with its article, ``{n}`` a number
(digits or words), ``{d}`` a duration with two decimals, ``{sensor}`` the sensor name, ``{start}``/``{end}``
the window's first/last time, ``{trends}``/``{changes}`` counted noun phrases, ``{be}`` is/are.
"""

from __future__ import annotations

__all__ = [
    "STAGE1_QUESTIONS",
    "STAGE1_DATA_NOUNS",
    "STAGE2_QUESTIONS",
    "STAGE2_DATA_NOUNS",
    "SEGMENT_LINE_FORMATS",
    "COUNT_LINE_FORMATS",
    "SENSOR_SENTENCES",
    "TREND_COUNT_SENTENCES",
    "TREND_NOUNS",
    "CHANGE_NOUNS",
    "DURATION_LEADS",
    "DURATION_CLAUSES",
    "OVERALL_SENTENCES",
    "STAGE1_SYNONYMS",
    "STAGE2_SYNONYMS",
    "SynonymSet",
    "ALL_TREND_WORDS",
    "STATISTICS_HEADER",
    "COMPACT_STATISTICS_HEADER",
    "TREND_HEADER",
    "CORRELATION_HEADER",
]

# ---- Stage 1: questions ------------------------------------------------------------------------------

STAGE1_DATA_NOUNS = ("time series data", "sensor data")

STAGE1_QUESTIONS = (
    "Please analyze the trend changes in the {data}.",
    "Can you analyze the trend changes in the {data}?",
    "Analyze the trend changes observed in the {data}.",
    "Please describe the trend changes in the {data}.",
    "Could you describe how the trend changes over time in the {data}?",
    "Describe the trend changes in the {data}, segment by segment.",
    "What are the trend changes in the {data}?",
    "Identify the trend changes in the {data}.",
    "Please identify each trend and when it changes in the {data}.",
    "Kindly provide a detailed analysis of the trend changes observed in the {data}.",
    "Provide an analysis of the trend changes in the {data}.",
    "Give a breakdown of the trend changes in the {data}.",
    "Can you summarize the trend fluctuations in the {data}?",
    "Summarize the trend changes present in the {data}.",
    "How does the trend of the {data} change over time?",
    "Walk me through the trend changes in the {data}.",
    "Please analyze the trend shifts in the {data}.",
    "Examine the {data} and report its trend changes.",
    "Break down the {data} into its trend segments.",
    "List the time intervals of each trend in the {data}.",
    "Please segment the {data} by trend and describe each part.",
    "What trend changes can be seen in the {data}?",
    "Explain the changes in trend within the {data}.",
    "Characterize the trend changes of the {data} over time.",
    "Can you point out where the trend of the {data} changes?",
    "Report the rising, falling and steady parts of the {data}.",
    "Outline the sequence of trends in the {data}.",
    "Assess the trend changes in the {data}.",
    "Please inspect the {data} and describe its trend changes.",
    "Detail the trend variations in the {data}.",
    "Investigate the trend changes in the {data}.",
    "Describe how the {data} trends up, down or stays level over time.",
    "Tell me about the trend changes in the {data}.",
    "Could you analyze how the trends in the {data} evolve?",
)

# ---- Stage 1: answer lines ---------------------------------------------------------------------------

SEGMENT_LINE_FORMATS = (
    "{s}s to {e}s: {w}",
    "{s}-{e}s: {w}",
    "{s}-{e} seconds: {w}",
    "From {s}s to {e}s: {w}",
    "{s}s - {e}s: {w}",
    "Between {s}s and {e}s: {w}",
    "{s} to {e} seconds: {w}",
)

COUNT_LINE_FORMATS = (
    "Number of {w} trends: {n}",
    "Number of {w} segments: {n}",
    "Total {w} segments: {n}",
    "Count of {w} segments: {n}",
    "Total number of {w} trends: {n}",
    "{W} segments in total: {n}",
)

# ---- Stage 1: summary paragraph -----------------------------------------------------------------------

SENSOR_SENTENCES = (
    "The sensor data illustrates {sensor} sensor readings between {start} and {end} seconds.",
    "{Sensor} sensor data between {start}s and {end}s is represented in the time series data.",
    "This time series shows {sensor} sensor readings from {start}s to {end}s.",
    "The data covers {sensor} sensor readings from {start} to {end} seconds.",
    "The time series consists of {sensor} sensor readings spanning {start}s to {end}s.",
    "Readings from the {sensor} sensor are shown from {start}s to {end}s.",
)

# (singular, plural) noun phrases that follow a count.
TREND_NOUNS = (
    ("distinct trend", "distinct trends"),
    ("unique trend", "unique trends"),
    ("trend type", "trend types"),
    ("kind of trend", "kinds of trend"),
)
CHANGE_NOUNS = (
    ("trend change", "trend changes"),
    ("change in trend", "changes in trend"),
    ("trend shift", "trend shifts"),
    ("shift between trends", "shifts between trends"),
)

TREND_COUNT_SENTENCES = (
    "There {be} {trends} and {changes} in the data.",
    "The data contains {trends} and {changes}.",
    "{Trends} {be} present in the data, with {changes}.",
    "In total, the series shows {trends} and {changes}.",
    "We observe {trends} and {changes} in the data.",
    "The readings exhibit {trends}, with {changes} in total.",
)

DURATION_LEADS = (
    "Summarizing the results, ",
    "In terms of duration, ",
    "Looking at durations, ",
    "Regarding the time spent in each trend, ",
    "",
)

DURATION_CLAUSES = (
    "the {w} trend lasted a total of {d} seconds",
    "{a_w} trend spanned a total timeframe of {d} seconds",
    "{a_w} pattern persisted for a cumulative period of {d} seconds",
    "the data's {w} tendency covered {d} seconds in total",
    "{w} segments add up to {d} seconds",
    "the {w} parts account for {d} seconds",
)

OVERALL_SENTENCES = (
    "Overall, the trend is {w}.",
    "In summary, the overall trend is {w}.",
    "The overall trend from start to end is {w}.",
    "Taken as a whole, the data follows {a_w} trend.",
    "From the first to the last reading, the net direction is {w}.",
)

# ---- synonym sets ------------------------------------------------------------------------------------


class SynonymSet(tuple):
    """``(increase_word, decrease_word, steady_word)``; index with a trend code via :meth:`word`."""

    def word(self, code: int) -> str:
        return self[0] if code > 0 else self[1] if code < 0 else self[2]


_PAIRS1 = (
    ("upward", "downward"),
    ("ascending", "descending"),
    ("rising", "falling"),
    ("increasing", "decreasing"),
    ("growing", "declining"),
)
_STEADY1 = ("steady", "constant", "stable", "consistent")
_PAIRS2 = _PAIRS1[:4]
_STEADY2 = _STEADY1[:3]

STAGE1_SYNONYMS = tuple(SynonymSet((u, d, s)) for u, d in _PAIRS1 for s in _STEADY1)
"""Stage-1 sets: five up/down pairs × four steady words (as in the reference notebooks)."""
STAGE2_SYNONYMS = tuple(SynonymSet((u, d, s)) for u, d in _PAIRS2 for s in _STEADY2)
"""Stage-2 sets: without growing/declining and "consistent" (as in the reference notebooks)."""

ALL_TREND_WORDS: dict[str, int] = {}
for _u, _d in _PAIRS1:
    ALL_TREND_WORDS[_u] = 1
    ALL_TREND_WORDS[_d] = -1
for _s in _STEADY1:
    ALL_TREND_WORDS[_s] = 0
# Words the parser also accepts (base forms used in JSON / by other generators).
ALL_TREND_WORDS.update({"increase": 1, "decrease": -1, "up": 1, "down": -1, "flat": 0, "unchanged": 0})

# ---- Stage 2 -----------------------------------------------------------------------------------------

STAGE2_DATA_NOUNS = (
    "time series data", "sensor data", "normalized time series data", "normalized sensor data",
)
STAGE2_PLAIN_DATA_NOUNS = ("time series data", "sensor data", "time series data", "sensor data")
"""For a model that does not see z-normalised series: entry for entry the same nouns without "normalized"."""

STAGE2_QUESTIONS = (
    "Which human activity does this {data} segment, consisting of {n} {channels}, represent?",
    "What activity is being performed in this {data} window with {n} {channels}?",
    "Which activity does this {n}-channel {data} window represent?",
    "Based on this {data} segment of {n} {channels}, which human activity is taking place?",
    "Identify the human activity represented by this {data} segment with {n} {channels}.",
    "Classify the activity shown in this {data} segment consisting of {n} {channels}.",
    "Given the {data} from {n} {channels} above, what is the person doing?",
    "Which of the activity classes best matches this {data} segment of {n} {channels}?",
    "Determine the human activity that this {data} segment, made up of {n} {channels}, corresponds to.",
    "What human activity do the readings in this {data} segment from {n} {channels} indicate?",
    "From this {data} segment with {n} {channels}, infer the activity being performed.",
    "Which activity is captured by this {data} segment containing {n} {channels}?",
    "Recognize the activity in this {data} segment, which has {n} {channels}.",
    "What is the subject doing during this {data} segment of {n} {channels}?",
    "Predict the human activity for this {data} segment consisting of {n} {channels}.",
    "To which activity does this {data} segment, composed of {n} {channels}, belong?",
    "Please determine which activity this {data} segment with {n} {channels} represents.",
    "Which human activity best explains this {data} segment of {n} {channels}?",
    "Looking at this {data} segment of {n} {channels}, which activity is it?",
    "Can you tell which human activity this {data} segment with {n} {channels} shows?",
)

STATISTICS_HEADER = "Statistics for each channel:"
COMPACT_STATISTICS_HEADER = "Mean, std per channel:"
TREND_HEADER = "Trend summary for each channel:"
CORRELATION_HEADER = "Pearson correlation for each channel pair:"

CORRELATION_LINES = (
    "The correlation between {a} and {b} is {strength} (r={r}).",
)
