"""Silence libraries that print on import (pysteps' banner) so the CLI's output stays its own."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator


@contextlib.contextmanager
def silenced_stdout() -> Iterator[None]:
    """Swallow what the block prints to stdout; warnings and errors still go to stderr."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
