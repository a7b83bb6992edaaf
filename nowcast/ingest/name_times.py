"""The time pattern in a folder's file names, found from the names themselves.

Names are cut into runs of digits and of other characters. The names that share the most
common shape (digits as 9, letters as a) are the series; each digit run that varies is read as
a time code (`%Y%m%d%H%M`, `%y%j%H%M`, ...) and a constant one as a literal or a date, and the
reading that gives every file its own time on the most regular cadence wins. Characters that
vary between names of the same shape (`V_` and `F_` product suffixes) become `?`.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from nowcast.ingest.sources.pattern import compile_pattern

# time formats a run of digits of this length may hold (longest meaning first)
FORMATS: dict[int, tuple[str, ...]] = {
    14: ("%Y%m%d%H%M%S",),
    13: ("%Y%j%H%M%S",),
    12: ("%Y%m%d%H%M", "%y%m%d%H%M%S"),
    11: ("%Y%j%H%M",),
    10: ("%Y%m%d%H", "%y%m%d%H%M"),
    9: ("%y%j%H%M",),
    8: ("%Y%m%d",),
    7: ("%Y%j",),
    6: ("%H%M%S", "%y%m%d"),
    4: ("%H%M", "%Y"),
    3: ("%j",),
    2: ("%H", "%M", "%d", "%m", "%y"),
}
CODE_CLASSES = {"Y": "year", "y": "year", "m": "date", "d": "date", "j": "date"}
LITERAL = ""
MAX_READINGS = 4096
DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class NameTimes:
    """A pattern and what it reads: the matched names with their times, and the others."""

    pattern: str
    times: dict[str, pd.Timestamp]
    unmatched: tuple[str, ...]

    @property
    def cadence(self) -> pd.Timedelta | None:
        """The most common spacing of the distinct times (None for fewer than two)."""
        return most_common_spacing(list(self.times.values()))


def shape_of(name: str) -> str:
    """A name with digits as 9 and letters as a: names of one series share it."""
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", name))


def most_common_spacing(times: Sequence[pd.Timestamp]) -> pd.Timedelta | None:
    """The most frequent difference between consecutive distinct times."""
    ordered = sorted(set(times))
    if len(ordered) < 2:
        return None
    spacing = Counter(b - a for a, b in itertools.pairwise(ordered))
    return spacing.most_common(1)[0][0]


def find_name_times(names: Sequence[str]) -> NameTimes | None:
    """The pattern that reads a time from the largest series of alike names (None: no time)."""
    if not names:
        return None
    shapes = Counter(shape_of(name) for name in names)
    series = [name for name in names if shape_of(name) == shapes.most_common(1)[0][0]]
    pieces = [DIGITS.split(name) for name in series]
    best: tuple[tuple[float, ...], str] | None = None
    for reading in _readings(pieces):
        score = _score(reading, pieces)
        if score is not None and (best is None or score > best[0]):
            best = (score, _pattern(reading, pieces))
    if best is None:
        return None
    compiled = compile_pattern(best[1])
    times: dict[str, pd.Timestamp] = {}
    for name in names:
        parsed = compiled.match(name)
        if parsed is not None:
            times[name] = parsed[0]
    unmatched = tuple(name for name in names if name not in times)
    return NameTimes(best[1], times, unmatched)


def _readings(pieces: list[list[str]]) -> list[tuple[str, ...]]:
    """Every assignment of a time format (or a literal) to each digit run."""
    options: list[tuple[str, ...]] = []
    for position in range(1, len(pieces[0]), 2):
        values = {piece[position] for piece in pieces}
        formats = tuple(f for f in FORMATS.get(len(next(iter(values))), ()) if _parses(values, f))
        if len(values) == 1:
            options.append((LITERAL, *(f for f in formats if len(f) > 2)))
        else:
            options.append(formats or ("*",))
    readings = list(itertools.product(*options))
    return readings[:MAX_READINGS]


def _parses(values: set[str], fmt: str) -> bool:
    """Whether every value reads as `fmt`."""
    try:
        for value in values:
            datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _codes(reading: tuple[str, ...]) -> list[str]:
    """The time codes of a reading, in order."""
    return [code for fmt in reading if fmt not in (LITERAL, "*") for code in fmt[1::2]]


def _score(reading: tuple[str, ...], pieces: list[list[str]]) -> tuple[float, ...] | None:
    """How well a reading dates the names: distinct times, then regular spacing, then detail;
    None when it cannot be a time (no year and day, or one field read twice)."""
    codes = _codes(reading)
    classes = [CODE_CLASSES.get(code, code) for code in codes]
    has_day = {"m", "d"} <= set(codes) or "j" in codes
    if "year" not in classes or not has_day or len(set(codes)) != len(codes):
        return None
    if ("j" in codes and ({"m", "d"} & set(codes))) or classes.count("year") > 1:
        return None
    fmt = " ".join(f for f in reading if f not in (LITERAL, "*"))
    times = []
    for piece in pieces:
        values = [piece[1 + 2 * i] for i, f in enumerate(reading) if f not in (LITERAL, "*")]
        try:
            times.append(pd.Timestamp(datetime.strptime(" ".join(values), fmt)))
        except ValueError:
            return None
    distinct = len(set(times))
    spacing = most_common_spacing(times)
    ordered = sorted(set(times))
    regular = sum(1 for a, b in itertools.pairwise(ordered) if b - a == spacing)
    return (distinct, regular / max(1, len(ordered) - 1), len(codes))


def _pattern(reading: tuple[str, ...], pieces: list[list[str]]) -> str:
    """The pattern text: literals, time formats, and `?` where letters vary between names."""
    out = []
    for position in range(len(pieces[0])):
        values = [piece[position] for piece in pieces]
        if position % 2 == 1:
            fmt = reading[position // 2]
            out.append(values[0] if fmt == LITERAL else fmt)
            continue
        out.append(
            "".join(
                chars[0] if len(set(chars)) == 1 else "?" for chars in zip(*values, strict=True)
            )
        )
    return "".join(out)
