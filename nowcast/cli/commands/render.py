"""`nowcast render`: map products of one forecast, or the daily summary sheets."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path

import typer

from nowcast.cli.options import out_option, pipeline_option
from nowcast.cli.state import app_state
from nowcast.core import ConfigError


class ProductFormat(StrEnum):
    """Which files to write for one forecast."""

    png = "png"
    gif = "gif"
    both = "both"


def _parse_day(text: str | None) -> date:
    """`YYYY-MM-DD`, or yesterday (UTC, the last complete day) when not given."""
    if text is None:
        from nowcast.core import last_complete_day

        return last_complete_day()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date like 2020-10-31", param_hint="--date"
        ) from None


def render(
    ctx: typer.Context,
    forecast: str = typer.Option(
        "latest", "--forecast", help="Forecast NetCDF file, or `latest` (newest by init time)."
    ),
    pipeline: str | None = pipeline_option("Only this pipeline (for `latest` and --daily)."),
    out: Path | None = out_option("Output folder (default: <output.products>/<pipeline>/)."),
    fmt: ProductFormat = typer.Option(ProductFormat.both, "--format", help="Files to write."),
    daily: bool = typer.Option(
        False, "--daily", help="Write the daily summary sheets and index.html instead."
    ),
    day: str | None = typer.Option(
        None, "--date", help="Day for --daily, YYYY-MM-DD (default: yesterday, UTC)."
    ),
) -> None:
    """Draw forecast maps (observation and each lead time, PNG and GIF), or the daily sheets."""
    # Imported here so that `nowcast --help` does not load cartopy and matplotlib.
    from nowcast.products import render_daily, render_forecast
    from nowcast.store import (
        latest_forecast,
        open_forecast,
        pipeline_name,
        pipeline_slug,
    )

    settings = app_state(ctx).settings
    if daily:
        if out is not None or forecast != "latest":
            raise ConfigError(
                "--daily writes to <output.products>/daily/<date>/; drop --out/--forecast"
            )
        pipelines = [pipeline] if pipeline else None
        typer.echo(str(render_daily(settings, _parse_day(day), pipelines=pipelines)))
        return
    if day is not None:
        raise ConfigError("--date applies only with --daily")
    if forecast == "latest":
        path = latest_forecast(settings.output.forecasts, pipeline).path
    else:
        path = Path(forecast)
    ds = open_forecast(path)
    target = out or settings.output.products / pipeline_slug(pipeline_name(ds))
    formats = ["png", "gif"] if fmt is ProductFormat.both else [fmt.value]
    for written in render_forecast(ds, target, formats):
        typer.echo(str(written))
