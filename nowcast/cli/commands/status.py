"""`nowcast status`: what the archive holds, which model is in use, the last forecast."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from nowcast.cli.console import table_console, when
from nowcast.cli.state import app_state
from nowcast.core import DataMissingError

if TYPE_CHECKING:  # the data stack loads only when the command runs, so --help stays fast
    import pandas as pd

    from nowcast.settings import Settings
    from nowcast.store import GroupSummary

MAX_ROWS = 30


def _cadence(step: pd.Timedelta | None) -> str:
    """A cadence as minutes or hours."""
    if step is None:
        return "-"
    minutes = step.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes:g} min"


def archive_table(rows: list[GroupSummary]) -> Table:
    """One row per archive group: frames, coverage, cadence, gaps, last ingest."""
    table = Table(title="archive")
    for name in ("group", "variable", "frames", "from", "to", "cadence", "gaps", "last ingest"):
        table.add_column(name, justify="right" if name in ("frames", "gaps") else "left")
    for row in rows[:MAX_ROWS]:
        gaps = f"{row.gaps} ({row.missing} missing)" if row.gaps else "0"
        table.add_row(
            row.group,
            escape(f"{row.variable} [{row.units}]") if row.units else row.variable,
            str(row.frames),
            when(row.start),
            when(row.end),
            _cadence(row.cadence),
            gaps,
            (row.last_ingest or "-").replace("T", " ")[:16] + ("Z" if row.last_ingest else ""),
        )
    if len(rows) > MAX_ROWS:
        table.add_row(f"... {len(rows) - MAX_ROWS} more groups", *[""] * 7)
    return table


def shipped_model(settings: Settings, pipeline: str) -> str | None:
    """The shipped checkpoint a pipeline falls back to (`[model] pretrained`), if it names one."""
    from nowcast.core import NowcastError
    from nowcast.ingest import load_pipeline

    try:
        return load_pipeline(settings, pipeline, source=False).model.pretrained
    except NowcastError:
        return None


def model_line(settings: Settings, pipeline: str) -> str:
    """Which trained model `nowcast forecast` would use for a pipeline, or how to get one."""
    from nowcast.models import CorruptCheckpointError, checkpoint_folder, read_meta

    folder = checkpoint_folder(settings, pipeline)
    try:
        meta = read_meta(folder)
    except CorruptCheckpointError as exc:
        return f"model for {pipeline}: {exc}"
    except DataMissingError:
        shipped = shipped_model(settings, pipeline)
        if shipped:
            from nowcast.models import pretrained_checkpoint

            local = f"nowcast finetune -p {pipeline} --from {pretrained_checkpoint(shipped)}"
            return (
                f"model for {pipeline}: shipped {shipped} (none trained at {folder};"
                f" `{local}` makes a local one)"
            )
        return f"model for {pipeline}: none trained at {folder} (`nowcast train -p {pipeline}`)"
    return (
        f"model for {pipeline}: {meta.preset or meta.model.arch} at {folder}, iteration "
        f"{meta.iteration}, trained {meta.created[:16]}Z"
    )


def status(ctx: typer.Context) -> None:
    """Show the archive's coverage, gaps and last ingest, the model, and the scheduler's health."""
    from nowcast.ingest import Ledger
    from nowcast.scheduler import scheduler_lines, scheduler_table
    from nowcast.store import Archive, heartbeat_path, list_forecasts, read_heartbeat

    settings = app_state(ctx).settings
    archive = Archive.require(settings.archive)
    console = table_console()
    rows = archive.summary()
    console.print(f"archive: {settings.archive}")
    console.print(archive_table(rows))
    pipelines = sorted({row.group.split("/")[0] for row in rows})
    for name in pipelines:
        last = Ledger(archive.path, name).last()
        if last is not None:
            console.print(f"last ingest attempt for {name}: {last.at} ({last.status})")
    for name in pipelines:
        console.print(model_line(settings, name))
    files = list_forecasts(settings.output.forecasts)
    if files:
        newest = files[-1]
        console.print(f"last forecast: {newest.path} (init {newest.init_time:%Y-%m-%dT%H:%MZ})")
    else:
        console.print(f"last forecast: none in {settings.output.forecasts}")
    beat = read_heartbeat(heartbeat_path(settings.schedule.state_dir))
    if beat is not None:
        for line in scheduler_lines(beat):
            console.print(line, highlight=False)
        console.print(scheduler_table(beat))
