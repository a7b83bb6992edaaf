"""How commands print: whole lines when output is not a terminal, and time cells for tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    import pandas as pd

TABLE_WIDTH = 120


def output_console(*, stderr: bool = False, quiet: bool = False) -> Console:
    """A console for standard output (or error). On a terminal it wraps at the terminal's
    width; into a pipe or a log it never breaks a line, so paths and messages stay whole."""
    on_terminal = Console(stderr=stderr).is_terminal
    return Console(stderr=stderr, quiet=quiet, soft_wrap=not on_terminal)


def table_console() -> Console:
    """A console as wide as the terminal, or TABLE_WIDTH columns when piped or captured."""
    return Console(width=None if Console().is_terminal else TABLE_WIDTH)


def when(time: pd.Timestamp | None) -> str:
    """A compact UTC time for tables."""
    return time.strftime("%Y-%m-%d %H:%MZ") if time is not None else "-"
