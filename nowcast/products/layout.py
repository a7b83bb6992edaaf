"""Figure geometry in inches: map panels sized to the grid's aspect, so no space is wasted."""

from __future__ import annotations

import math
from dataclasses import dataclass

Rect = tuple[float, float, float, float]

LEFT_IN = 0.65
RIGHT_IN = 0.35
GAP_IN = 0.25
PANEL_TITLE_IN = 0.45
TICK_LABELS_IN = 0.3
COLORBAR_IN = 0.18
COLORBAR_LABELS_IN = 0.6


@dataclass(frozen=True)
class Layout:
    """Figure size (inches) and axes rectangles (figure fractions), panels in row-major order."""

    size: tuple[float, float]
    panels: tuple[Rect, ...]
    colorbar: Rect
    footer: Rect


def choose_columns(n_panels: int, aspect: float, target: float = 4.0) -> int:
    """Columns giving a figure near `target` width:height (log scale), with few empty slots."""

    def mismatch(ncols: int) -> float:
        nrows = math.ceil(n_panels / ncols)
        empty = nrows * ncols - n_panels
        return abs(math.log(ncols / (nrows * aspect) / target)) + 0.3 * empty

    return min(range(1, n_panels + 1), key=mismatch)


def grid_layout(
    n_panels: int,
    ncols: int,
    aspect: float,
    panel_width: float,
    title_in: float,
    footer_in: float = 0.0,
) -> Layout:
    """Panels on a grid under a title, then a shared colour bar, then an optional footer."""
    nrows = math.ceil(n_panels / ncols)
    panel_height = panel_width * aspect
    row_in = PANEL_TITLE_IN + panel_height + TICK_LABELS_IN
    width = LEFT_IN + ncols * panel_width + (ncols - 1) * GAP_IN + RIGHT_IN
    colorbar_block = COLORBAR_IN + COLORBAR_LABELS_IN
    height = title_in + nrows * row_in + colorbar_block + footer_in
    panels = []
    for index in range(n_panels):
        row, col = divmod(index, ncols)
        left = LEFT_IN + col * (panel_width + GAP_IN)
        top = title_in + row * row_in + PANEL_TITLE_IN
        bottom = height - top - panel_height
        panels.append((left / width, bottom / height, panel_width / width, panel_height / height))
    maps_width = ncols * panel_width + (ncols - 1) * GAP_IN
    bar_width = min(maps_width * 0.8, 9.0)
    bar_left = LEFT_IN + (maps_width - bar_width) / 2
    bar_bottom = footer_in + COLORBAR_LABELS_IN
    colorbar = (bar_left / width, bar_bottom / height, bar_width / width, COLORBAR_IN / height)
    footer = (LEFT_IN / width, 0.0, maps_width / width, footer_in / height)
    return Layout((width, height), tuple(panels), colorbar, footer)
