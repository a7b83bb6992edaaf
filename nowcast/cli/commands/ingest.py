"""`nowcast ingest`: fetch new frames from each pipeline's source into the archive."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nowcast.cli.console import output_console, table_console, when
from nowcast.cli.options import pipeline_option, since_option
from nowcast.cli.state import app_state
from nowcast.core import error_with_code

if TYPE_CHECKING:  # the data stack loads only when the command runs, so --help stays fast
    from nowcast.ingest import IngestReport


def summary_table(report: IngestReport) -> Table:
    """Per pipeline: fetched / skipped / pending / rejected / failed and archive coverage."""
    title = "ingest (dry run: nothing fetched)" if report.dry_run else "ingest"
    table = Table(title=title)
    table.add_column("pipeline")
    fetched = "to fetch" if report.dry_run else "fetched"
    for name in (fetched, "skipped", "pending", "rejected", "failed", "frames"):
        table.add_column(name, justify="right")
    table.add_column("coverage (UTC)")
    for p in report.pipelines:
        count = len(p.planned) if report.dry_run else p.fetched
        groups = f" ({len(p.groups)} groups)" if len(p.groups) > 1 else ""
        coverage = f"{when(p.start)} .. {when(p.end)}{groups}" if p.start is not None else "-"
        table.add_row(
            p.name,
            str(count),
            str(p.skipped),
            str(p.pending),
            str(p.rejected),
            str(p.failed),
            str(p.frames),
            coverage,
        )
    return table


def problems(report: IngestReport) -> list[str]:
    """One phrase per pipeline that failed or had every input rejected."""
    found = []
    for p in report.pipelines:
        if p.errors:
            found.append(f"{p.name}: {p.errors[-1]}")
        elif p.all_rejected:
            found.append(
                f"{p.name}: every input was rejected ({p.rejected} now, {p.rejected_before} "
                "before under this definition; see quarantine); fix "
                "the pipeline and rerun (rejected inputs are retried after a pipeline change, "
                "or with --retry-rejected)"
            )
    return found


def ingest(
    ctx: typer.Context,
    pipeline: list[str] | None = pipeline_option(
        "Pipeline to ingest (repeatable; default: configured)."
    ),
    since: str | None = since_option(
        "Start: a duration before now (8h, 2d) or an ISO 8601 UTC time."
    ),
    until: str | None = typer.Option(
        None, "--until", help="End: an ISO 8601 UTC time (default: now)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be fetched; write nothing."
    ),
    retry_rejected: bool = typer.Option(
        False,
        "--retry-rejected",
        help="Read again every input rejected before, inside the time window or not (those "
        "rejected under another pipeline definition are read again anyway).",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Decode on this Dask scheduler (tcp://host:port; setting backfill.scheduler).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Decode on a local Dask cluster of this many workers."
    ),
) -> None:
    """Fetch every frame new since the last run from each pipeline into the archive.

    Idempotent and resumable; fetched frames are kept even when a source fails.

    Each pipeline runs and is reported on its own; the ledger (`<archive>.ledger.sqlite`)
    records every attempt. Exit codes: 0 every pipeline ingested what was available, 2 a
    pipeline definition is bad, 4 a source was unreachable or a pipeline failed, 5 every input
    a pipeline read was rejected; with several failures, the first one's code.

    Backfills decode on Dask: on --scheduler (or the backfill.scheduler setting), on a local
    cluster with --workers, or on a local cluster of the free cores when more than
    backfill.threshold frames are to be fetched. One process still writes, in time order.
    An unreachable scheduler exits 4 before anything is fetched.
    """
    from nowcast.core import ConfigError, now_utc, parse_when
    from nowcast.ingest import Backfill, run_ingest

    state = app_state(ctx)
    settings = state.settings
    now = now_utc()
    start = parse_when(since, now) if since else None
    end = parse_when(until, now) if until else None
    if start is not None and end is not None and end < start:
        raise ConfigError(f"--until {until} is before --since {since}: nothing to ingest")
    options = settings.backfill
    backfill = Backfill(
        scheduler or options.scheduler, workers or options.workers, options.threshold
    )
    if backfill.scheduler is not None and not dry_run:
        backfill.client()
    errors = output_console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=state.quiet or not errors.is_terminal,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        try:
            report = run_ingest(
                settings, pipeline, start, end, dry_run, progress, retry_rejected, backfill=backfill
            )
        finally:
            backfill.close()
    console = table_console()
    console.print(summary_table(report))
    if report.dry_run:
        for p in report.pipelines:
            for line in p.planned:
                console.print(f"{p.name}: would fetch {line}", highlight=False)
    if report.exit_code:
        raise error_with_code(report.exit_code, "ingest failed: " + "; ".join(problems(report)))
