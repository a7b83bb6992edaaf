"""Put a model's cross-validation table (crossval.md, as `nowcast crossval` writes it) into its
card, between the card's `<!-- crossval -->` and `<!-- /crossval -->` lines.

Usage: python scripts/card_table.py CARD.md CROSSVAL.md
"""

from __future__ import annotations

import sys
from pathlib import Path

START, END = "<!-- crossval -->", "<!-- /crossval -->"


def spliced(card: str, table: str) -> str:
    """`card` with the text between its markers replaced by `table`."""
    if card.count(START) != 1 or card.count(END) != 1:
        raise SystemExit(f"the card needs one {START} line and one {END} line")
    head, rest = card.split(START)
    _, tail = rest.split(END)
    rows = table.strip().split("\n\n")[0]  # the table, without the note under it
    return f"{head}{START}\n{rows}\n{END}{tail}"


if __name__ == "__main__":
    card_path, table_path = (Path(arg) for arg in sys.argv[1:3])
    card_path.write_text(spliced(card_path.read_text(), table_path.read_text()))
