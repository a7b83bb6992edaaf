"""The `index.html` of a day's products: one entry per pipeline sheet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from nowcast.core.version import __version__


@dataclass(frozen=True)
class SheetEntry:
    """One pipeline's sheet as the index lists it."""

    pipeline: str
    image: str
    inits: list[str]
    scores_note: str


def index_html(day: date, entries: list[SheetEntry]) -> str:
    """A small self-contained page linking each sheet, with its inits and scores note."""
    sections = []
    for entry in entries:
        inits = ", ".join(escape(i) for i in entry.inits)
        sections.append(
            f"<section><h2>{escape(entry.pipeline)}</h2>\n"
            f"<p>Forecasts initialised {inits}. {escape(entry.scores_note)}.</p>\n"
            f'<a href="{escape(entry.image)}"><img src="{escape(entry.image)}" '
            f'alt="{escape(entry.pipeline)} daily summary" width="900"></a></section>'
        )
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>nowcast daily summary {day.isoformat()}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:960px}"
        "img{max-width:100%;border:1px solid #ccc}</style></head><body>\n"
        f"<h1>nowcast daily summary {day.isoformat()} (UTC)</h1>\n{body}\n"
        f"<footer><p>Made by nowcast {escape(__version__)}.</p></footer>\n</body></html>\n"
    )
