"""`nowcast schedule`: the long-running daemon that keeps the archive and products current."""

from __future__ import annotations

import typer

from nowcast.cli.state import app_state
from nowcast.settings import DEFAULT_CONFIG


def schedule(
    ctx: typer.Context,
    every_seconds: int | None = typer.Option(
        None,
        "--every-seconds",
        min=1,
        help="Run each ingest and the verify job every N seconds instead of at the configured "
        "minutes (tests, catching up a backlog).",
    ),
    run_now: bool = typer.Option(
        False, "--run-now", help="Ingest every pipeline right at start, not one interval later."
    ),
) -> None:
    """Ingest, forecast, verify and render on a timetable until SIGTERM or SIGINT.

    Ingest each pipeline every `schedule.every_minutes` (its pipeline file).

    After an ingest that added frames: forecast with the trained model and render the products.

    Without a trained model: a warning, and no forecast (never a baseline in its place).

    Verify every `schedule.verify_every_minutes`; yesterday's daily product at `daily_product_utc`.

    Jobs persist in <state_dir>/jobs.sqlite; health in <state_dir>/heartbeat.json (see status).

    One scheduler per archive. SIGTERM/SIGINT let the running jobs finish, then exit 0.

    Exit codes: 0 stopped by a signal, 2 bad config or another scheduler runs for this archive.
    """
    from nowcast.scheduler import ScheduleOptions, run_daemon

    state = app_state(ctx)
    config = state.config_path or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    options = ScheduleOptions(
        config=str(config.resolve()) if config else None,
        archive=str(state.archive) if state.archive else None,
        every_seconds=every_seconds,
        run_now=run_now,
    )
    run_daemon(state.settings, options)
