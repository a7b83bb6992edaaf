"""File-name patterns with strftime codes: `66_%Y%m%d_%H%M%S.nc`, `image/*/%Y%m%d%H-{group}-*.h5`.

`%` codes give the valid time, `{group}` names a sequence (a storm id), `*` matches anything
within one path segment. The same pattern gives the glob that lists candidate files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

CODES = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "j": r"\d{3}",
}
TOKEN = re.compile(r"%(?P<code>.)|\{group\}|\*|\?|[^%{*?]+|.", re.DOTALL)


@dataclass(frozen=True)
class NamePattern:
    """A compiled pattern: the glob to list files and the regex that reads their time."""

    text: str
    glob: str
    regex: re.Pattern[str]
    codes: tuple[str, ...]

    def match(self, relative: str) -> tuple[pd.Timestamp, str | None] | None:
        """(valid time, group) of a relative path, or None when it does not fit the pattern."""
        found = self.regex.fullmatch(relative)
        if found is None:
            return None
        seen: dict[str, str] = {}
        for index, code in enumerate(self.codes):
            value = found.group(f"t{index}")
            if seen.setdefault(code, value) != value:
                return None
        try:
            stamp = datetime.strptime(
                " ".join(seen.values()), " ".join(f"%{code}" for code in seen)
            )
        except ValueError:
            return None
        group = found.groupdict().get("group")
        return pd.Timestamp(stamp).as_unit("ns"), group


def compile_pattern(text: str) -> NamePattern:
    """Compile a pattern; ValueError for codes that do not identify a time."""
    glob, regex, codes = [], [], []
    has_group = False
    for token in TOKEN.finditer(text):
        piece = token.group(0)
        code = token.group("code")
        if code is not None:
            if code not in CODES:
                raise ValueError(f"unsupported time code %{code} in {text!r}")
            regex.append(f"(?P<t{len(codes)}>{CODES[code]})")
            codes.append(code)
            glob.append("*")
        elif piece == "{group}":
            regex.append("(?P=group)" if has_group else r"(?P<group>[^/]+?)")
            has_group = True
            glob.append("*")
        elif piece == "*":
            regex.append(r"[^/]*?")
            glob.append("*")
        elif piece == "?":
            regex.append(r"[^/]")
            glob.append("?")
        else:
            regex.append(re.escape(piece))
            glob.append(piece)
    if not codes:
        raise ValueError(f"pattern {text!r} has no time codes (%Y, %m, %d, %H, %M, ...)")
    joined = re.sub(r"\*+", "*", "".join(glob))
    return NamePattern(text, joined, re.compile("".join(regex)), tuple(codes))
