"""What the commands' tables share: a fixed width when output is not a terminal, time cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    import pandas as pd

TABLE_WIDTH = 120


def table_console() -> Console:
    """A console as wide as the terminal, or TABLE_WIDTH columns when piped or captured."""
    return Console(width=None if Console().is_terminal else TABLE_WIDTH)


def when(time: pd.Timestamp | None) -> str:
    """A compact UTC time for tables."""
    return time.strftime("%Y-%m-%d %H:%MZ") if time is not None else "-"
