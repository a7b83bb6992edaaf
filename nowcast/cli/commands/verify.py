"""`nowcast verify`: scores against observations and baselines, stored across runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import Progress

from nowcast.cli.console import output_console
from nowcast.cli.options import (
    FROM_TIME,
    TO_TIME,
    ensemble_option,
    out_option,
    pipeline_option,
    since_option,
)
from nowcast.cli.state import app_state

if TYPE_CHECKING:
    from nowcast.verify import VerifyReport


def _floats(text: str | None) -> list[float] | None:
    """`1,5,10` -> [1.0, 5.0, 10.0]."""
    from nowcast.core import ConfigError

    if not text:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated numbers, got {text!r}") from None


def _thresholds(text: str | None) -> list[float | str] | None:
    """`1,5` (the archive's units) or `1mm/h,5mm/h` (rain rates, converted per archive)."""
    from nowcast.core import ConfigError

    if not text:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return [_threshold(part) for part in parts]
    except ValueError:
        raise ConfigError(
            f"expected comma-separated numbers or rain rates such as 5mm/h, got {text!r}"
        ) from None


def _threshold(part: str) -> float | str:
    """A bare number as a float; a rain rate (`5mm/h`) kept as text once its number reads."""
    if part.endswith("mm/h"):
        float(part.removesuffix("mm/h"))
        return part
    return float(part)


def verify(
    ctx: typer.Context,
    pipeline: list[str] | None = pipeline_option(
        "Pipeline(s) to verify (default: all with forecasts)."
    ),
    since: str | None = since_option(
        "Score forecasts initialised since: a duration before now (7d) or an ISO 8601 UTC "
        "date or time (default: every forecast in the store)."
    ),
    thresholds: str | None = typer.Option(
        None,
        "--thresholds",
        help="Event thresholds: rain rates such as 1mm/h,5mm/h (converted to each archive's "
        "units and cadence), or bare numbers in the archive's own units.",
    ),
    scales: str | None = typer.Option(
        None, "--scales", help="FSS neighbourhood sizes in pixels, e.g. 1,4,16."
    ),
    out: Path | None = out_option("Score folder (default: configured)."),
    report: bool = typer.Option(False, "--report", help="Also write plots and report.md."),
    backtest: bool = typer.Option(
        False, "--backtest", help="Hindcast every init in --from..--to, then score."
    ),
    start: str | None = FROM_TIME,
    end: str | None = TO_TIME,
    model: str | None = typer.Option(None, "--model", help="Checkpoint for the backtest."),
    baselines_only: bool = typer.Option(
        False, "--baselines-only", help="Backtest persistence and extrapolation only."
    ),
    ensemble: int | None = ensemble_option(
        "Backtest: also forecast pysteps STEPS and the model's ensemble with N members "
        "and score them with CRPS, reliability, ROC area and rank histograms."
    ),
    include_training: bool = typer.Option(
        False,
        "--include-training",
        help="Backtest: also score init times whose frames overlap the model's training period "
        "(left out by default), under the method 'model (in training period)'.",
    ),
) -> None:
    """Score forecasts per lead time: MSE, MAE, SSIM, PSNR, RMSE, bias, CSI/POD/FAR, FSS.

    Persistence and pysteps extrapolation are scored on exactly the same cases. Ensemble
    forecasts (stored, or the backtest's --ensemble) also get CRPS, reliability, ROC area and
    rank histograms, accumulated over the cases. Rows
    accumulate in scores.sqlite (one per forecast x lead time x score x method).

    Exit codes: 0 cases scored, 3 no archive, 5 no case scored (no forecast in the period,
    or none with observations yet).
    """
    from nowcast.core import ConfigError, NotDoneError, parse_when
    from nowcast.verify import write_report

    settings = app_state(ctx).settings
    console = output_console(stderr=True)
    options = {"thresholds": _thresholds(thresholds), "scales": _floats(scales), "out": out}
    if options["scales"]:
        options["scales"] = [int(s) for s in options["scales"]]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("scoring", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if backtest:
            from nowcast.verify import run_backtest

            if not (pipeline and len(pipeline) == 1 and start and end):
                raise ConfigError("--backtest needs one --pipeline and both --from and --to")
            result = run_backtest(
                settings,
                pipeline[0],
                parse_when(start),
                parse_when(end),
                model=model,
                with_model=not baselines_only,
                include_training=include_training,
                ensemble=ensemble,
                progress=advance,
                **options,
            )
        else:
            from nowcast.verify import run_verify

            given = (
                ("--include-training", include_training),
                ("--baselines-only", baselines_only),
                ("--ensemble", ensemble is not None),
            )
            misplaced = [flag for flag, value in (*given, ("--model", model)) if value]
            if misplaced:
                raise ConfigError(f"{', '.join(misplaced)}: for --backtest only")
            if since and start:
                raise ConfigError("give --since or --from, not both")
            first = parse_when(since or start) if since or start else None
            last = parse_when(end) if end else None
            result = run_verify(settings, pipeline, first, last, progress=advance, **options)
    if result.headline:
        _print_headline(result)
    if result.curves:
        typer.echo(f"ensemble curves: {result.curves}")
    counts = ", ".join(f"{m}: {n}" for m, n in sorted(result.cases.items())) or "none"
    typer.echo(f"scored cases ({counts}); {result.rows} rows -> {result.table}")
    if result.in_training:
        done = "scored as 'model (in training period)'" if include_training else "left out"
        typer.echo(f"{result.in_training} init time(s) overlap the model's training period: {done}")
    if not result.cases:
        if backtest:
            why = "no init time in --from..--to has history and observations in the archive"
        elif result.found:
            why = f"{result.found} forecast(s) in the period, none with observations yet"
        else:
            why = f"no stored forecast in the period under {settings.output.forecasts}"
        raise NotDoneError(f"no case scored: {why}")
    if report:
        path = write_report(result.table.parent, None, result.period)
        typer.echo(f"report: {path}")


def _print_headline(result: VerifyReport) -> None:
    """The backtest's table per method and lead, rain in mm/h (see verify.headlines)."""
    from rich.table import Table

    from nowcast.cli.console import table_console
    from nowcast.verify import ensemble_headline, headline

    deterministic = [r for r in result.headline if r not in set(result.probabilistic)]
    shown = headline(deterministic, result.units, result.cadence)
    table = Table(*shown.columns, title=f"backtest {result.period}")
    for row in shown.rows:
        table.add_row(*row)
    table_console().print(table)
    if result.probabilistic:
        ensembles = ensemble_headline(result.probabilistic)
        table = Table(*ensembles.columns, title=f"ensembles {result.period}")
        for row in ensembles.rows:
            table.add_row(*row)
        table_console().print(table)
