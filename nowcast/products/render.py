"""`render_forecast`: the PNG figure and GIF animation of one forecast, written atomically."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import xarray as xr

from nowcast.core import ConfigError, atomic_path
from nowcast.products.figures import forecast_figure, save_png, write_gif
from nowcast.products.probability import probability_figure
from nowcast.store import check_forecast, is_ensemble, open_forecast, product_stem

log = logging.getLogger(__name__)

FORMATS = ("png", "gif")
PNG_DPI = 100


def _write_png(ds: xr.Dataset, path: Path) -> Path:
    """The panel figure as PNG."""
    return save_png(forecast_figure(ds), path, dpi=PNG_DPI)


WRITERS: dict[str, Callable[[xr.Dataset, Path], Path]] = {"png": _write_png, "gif": write_gif}
PROBABILITY_SUFFIX = "_probability"


def probability_png(stem: str) -> str:
    """The file name of an ensemble's probability maps beside its `<stem>.png`."""
    return f"{stem}{PROBABILITY_SUFFIX}.png"


def render_forecast(
    source: Path | str | xr.Dataset,
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
) -> list[Path]:
    """Write `<pipeline>_<init>.png` and/or `.gif` for one forecast file or dataset into out_dir;
    for an ensemble with PNG asked for, also its probability maps `<stem>_probability.png`."""
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in WRITERS]
    if unknown or not wanted:
        raise ConfigError(f"unknown product format(s) {unknown}; choose from {', '.join(FORMATS)}")
    if isinstance(source, xr.Dataset):
        ds = source
        check_forecast(ds, "dataset")
    else:
        ds = open_forecast(Path(source))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in wanted:
        path = out_dir / f"{product_stem(ds)}.{fmt}"
        with atomic_path(path) as tmp:
            WRITERS[fmt](ds, tmp)
        log.info("wrote %s", path)
        written.append(path)
    if is_ensemble(ds) and "png" in wanted:
        path = out_dir / probability_png(product_stem(ds))
        with atomic_path(path) as tmp:
            save_png(probability_figure(ds), tmp, dpi=PNG_DPI)
        log.info("wrote %s", path)
        written.append(path)
    return written
