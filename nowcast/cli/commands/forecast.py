"""`nowcast forecast`: the operational forecast from the newest hours in the archive."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from nowcast.cli.choices import Baseline, Device, FillMethod, value_of
from nowcast.cli.console import output_console
from nowcast.cli.options import DEVICE, ensemble_option, out_option, pipeline_option, since_option
from nowcast.cli.state import app_state


class ForecastBaseline(StrEnum):
    """The baselines of `--baseline`, plus pysteps' STEPS, whose forecast is an ensemble."""

    persistence = Baseline.persistence.value
    extrapolation = Baseline.extrapolation.value
    sprog = Baseline.sprog.value
    steps = "steps"


def forecast(
    ctx: typer.Context,
    pipeline: str | None = pipeline_option("Pipeline to forecast (default: the first configured)."),
    since: str | None = since_option(
        "History to read, ending at the init time (default: the pipeline's [forecast] "
        "history); must match the model's input frames."
    ),
    at: str | None = typer.Option(
        None, "--at", help="Init time (ISO 8601 UTC) instead of the newest frame: a hindcast."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Checkpoint folder, or preset name (default: the pipeline's model)."
    ),
    baseline: ForecastBaseline | None = typer.Option(
        None,
        "--baseline",
        help="A baseline instead of the model; steps is pysteps' STEPS ensemble "
        "(ensemble.members members unless --ensemble says).",
    ),
    ensemble: int | None = ensemble_option(
        "Write an ensemble of N members (the model's forecast with cascade noise, or STEPS "
        "with --baseline steps) with exceedance probabilities at the rain thresholds."
    ),
    device: Device | None = DEVICE,
    fill: FillMethod | None = typer.Option(
        None,
        "--fill",
        help="Fill missing history frames: persistence or linear (else refuse); never before "
        "the archive's first frame, and at most 25% of the window.",
    ),
    storm: str | None = typer.Option(None, "--storm", help="Storm id for storm-centred sources."),
    out: Path | None = out_option("Forecast folder (default: configured)."),
    render: bool = typer.Option(False, "--render", help="Also draw the map (PNG) and the GIF."),
) -> None:
    """Forecast the next hours from the last `--since` hours and write CF NetCDF and Zarr.

    Without a trained checkpoint it stops and says how to get one; `--baseline` runs the same
    chain with persistence or pysteps extrapolation. `--ensemble N` adds N members and the
    probabilities P(R >= 1, 5, 10 mm/h) per lead (`realization` and `threshold` dimensions);
    the forecast variable is then the members' mean.
    """
    from nowcast.core import iso, parse_when
    from nowcast.forecasting import ForecastRequest, run_forecast
    from nowcast.store import probability_label

    settings = app_state(ctx).settings
    request = ForecastRequest(
        pipeline=pipeline,
        since=since,
        at=parse_when(at) if at else None,
        model=model,
        baseline=value_of(baseline),
        device=value_of(device),
        fill=value_of(fill),
        out=out,
        storm=storm,
        ensemble=ensemble,
    )
    result = run_forecast(settings, request)
    if render:
        from nowcast.products import render_forecast
        from nowcast.store import pipeline_slug

        folder = settings.output.products / pipeline_slug(str(result.dataset.attrs["pipeline"]))
        result.products = render_forecast(result.netcdf, folder, ("png", "gif"))
    dataset = result.dataset
    table = Table(title=f"forecast {dataset.attrs['pipeline']} ({dataset.attrs['method']})")
    table.add_column("lead")
    table.add_column("valid time (UTC)")
    units = escape(f"[{dataset['forecast'].attrs.get('units', '')}]")  # not a rich style
    table.add_column(f"mean {units}", justify="right")
    thresholds = range(dataset.sizes.get("threshold", 0))
    for index in thresholds:
        table.add_column(f"max {escape(probability_label(dataset, index))}", justify="right")
    for index in range(dataset.sizes["lead_time"]):
        lead = dataset.lead_time.values[index].astype("timedelta64[m]").astype(int)
        chances = [f"{float(dataset['probability'][k, index].max()):.2f}" for k in thresholds]
        table.add_row(
            f"+{lead} min",
            iso(dataset.time.values[index]),
            f"{float(dataset['forecast'][index].mean()):.2f}",
            *chances,
        )
    console = output_console()
    console.print(table)
    console.print(
        f"init {iso(dataset.forecast_reference_time.values)}  model {dataset.attrs['model']}"
    )
    if "realization" in dataset.dims:
        console.print(
            f"ensemble of {dataset.sizes['realization']} members (seed {settings.ensemble.seed})"
            f"; forecast = their mean"
        )
    if dataset.attrs.get("filled_times"):
        console.print(f"filled history frames: {dataset.attrs['filled_times']}")
    console.print(
        f"model {result.model_seconds:.3f} s, I/O {result.io_seconds:.3f} s -> {result.netcdf}"
    )
    for product in result.products:
        console.print(f"product: {product}")
