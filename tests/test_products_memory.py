"""Long runs: rendering many forecasts in one process does not grow memory without bound."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from forecast_fixtures import BOM_DIR, bom_forecast, requires, shifted_init

from nowcast.products.figures import forecast_figure, save_png, write_gif
from nowcast.store.forecast_files import init_time

RENDERS = 100
WARM_UP = 5
GROWTH_LIMIT_MB = 25.0


def rss_mb() -> float:
    """Resident set size of this process, from /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def render_small(index: int, out: Path) -> None:
    """A one-lead forecast's PNG (every tenth also its GIF), small and at low dpi, to run fast."""
    base = bom_forecast(60, factor=16).isel(lead_time=[0])
    ds = shifted_init(base, init_time(base).replace(minute=index % 60, hour=index // 60))
    save_png(forecast_figure(ds, width_in=5.0), out / "figure.png", dpi=30)
    if index % 10 == 0:
        write_gif(ds, out / "animation.gif", width_in=2.5, dpi=30)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
@requires(BOM_DIR)
def test_hundred_renders_keep_memory_bounded(tmp_path: Path) -> None:
    for index in range(WARM_UP):
        render_small(index, tmp_path)
    gc.collect()
    before = rss_mb()
    for index in range(WARM_UP, WARM_UP + RENDERS):
        render_small(index, tmp_path)
    gc.collect()
    growth = rss_mb() - before
    assert growth < GROWTH_LIMIT_MB, f"RSS grew {growth:.1f} MB over {RENDERS} renders"
