"""Small English helpers: integers as words (and back) and the indefinite article.

Written for the generated texts (no external dependency): ``number_to_words(49) == "forty-nine"``,
``words_to_number("forty nine") == 49``, ``with_article("upward trend") == "an upward trend"``.
"""

from __future__ import annotations

import re

__all__ = [
    "number_to_words",
    "words_to_number",
    "indefinite_article",
    "with_article",
    "fix_articles",
    "capitalize_first",
]

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand")]


def _below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        tens, ones = divmod(n, 10)
        parts.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif n > 0:
        parts.append(_ONES[n])
    return " ".join(parts)


def number_to_words(n: int) -> str:
    """A non-negative integer (< 10**15) in English words: 0 → ``zero``, 49 → ``forty-nine``,
    1203 → ``one thousand two hundred three``."""
    if isinstance(n, bool) or int(n) != n:
        raise ValueError(f"number_to_words expects an integer, got {n!r}")
    n = int(n)
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10**15:
        raise ValueError(f"number_to_words: {n} is too large")
    if n == 0:
        return "zero"
    parts = []
    for value, name in _SCALES:
        if n >= value:
            parts.append(f"{_below_thousand(n // value)} {name}")
            n %= value
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


_WORD_VALUE = {w: i for i, w in enumerate(_ONES)}
_WORD_VALUE.update({w: 10 * i for i, w in enumerate(_TENS) if w})
_SCALE_VALUE = {name: value for value, name in _SCALES}

NUMBER_WORD_RE = (
    r"(?:(?:" + "|".join(sorted(list(_WORD_VALUE) + list(_SCALE_VALUE) + ["hundred"], key=len, reverse=True))
    + r")(?:[\s-]+(?:and[\s-]+)?)?)+"
)
"""Regular expression (no groups) matching a run of English number words."""


def words_to_number(text: str) -> int:
    """Inverse of :func:`number_to_words`; also accepts digits, ``no`` (→ 0), spaces instead of hyphens
    and ``and`` (``"one hundred and five"``). Raises ``ValueError`` on anything else."""
    t = text.strip().lower().replace(",", "")
    if re.fullmatch(r"\d+", t):
        return int(t)
    if t in ("no", "none"):
        return 0
    tokens = [w for w in re.split(r"[\s-]+", t) if w and w != "and"]
    if not tokens:
        raise ValueError(f"not a number: {text!r}")
    total, current = 0, 0
    for w in tokens:
        if w in _WORD_VALUE:
            current += _WORD_VALUE[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in _SCALE_VALUE:
            total += max(current, 1) * _SCALE_VALUE[w]
            current = 0
        else:
            raise ValueError(f"not a number: {text!r}")
    return total + current


# Words starting with a vowel letter but a consonant sound, and the reverse.
_CONSONANT_SOUND = ("one", "once", "uni", "use", "usu", "uti", "ure", "uro", "eu", "ewe", "ubiq")
_VOWEL_SOUND = ("hour", "honest", "honor", "honour", "heir")


def indefinite_article(word: str) -> str:
    """``a`` or ``an`` for the word that follows (by sound, with the common exceptions): ``an upward``,
    ``a unique``, ``an 8``, ``an 11``, ``a 1``, ``an hour``."""
    w = word.strip().lstrip("\"'(").lower()
    if not w:
        return "a"
    if w[0].isdigit():
        digits = re.match(r"[\d,]*", w).group(0).replace(",", "")  # type: ignore[union-attr]
        if digits.startswith("8"):
            return "an"
        if len(digits) % 3 == 2 and digits[:2] in ("11", "18"):
            return "an"  # eleven, eighteen, eleven thousand, ...
        return "a"
    if re.match(r"[a-z](?:-|$)", w):  # a spelled letter: "an x-axis", "a y-axis", "an s"
        return "an" if w[0] in "aefhilmnorsx" else "a"
    if w.startswith(_VOWEL_SOUND):
        return "an"
    if w.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if w[0] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    """``phrase`` preceded by the right indefinite article."""
    return f"{indefinite_article(phrase)} {phrase}"


_ARTICLE_RE = re.compile(r"\b([Aa]n?) ([\w'-]+)")


def fix_articles(text: str) -> str:
    """Correct every ``a``/``an`` in ``text`` to agree with the next word (a safety pass; the generators
    already choose the article from the word)."""

    def repl(m: re.Match[str]) -> str:
        art, nxt = m.group(1), m.group(2)
        good = indefinite_article(nxt)
        if art[0] == "A":
            good = good.capitalize()
        return f"{good} {nxt}"

    return _ARTICLE_RE.sub(repl, text)


def capitalize_first(s: str) -> str:
    """Upper-case the first character only (``"forty-nine trends"`` → ``"Forty-nine trends"``)."""
    return s[:1].upper() + s[1:] if s else s
