"""`nowcast pipeline new` and `nowcast pipeline check`: author a pipeline from a folder of
files, and see what a run would take from it before running."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import typer
from rich.progress import Progress

from nowcast.cli.console import output_console
from nowcast.cli.options import out_option
from nowcast.cli.state import app_state
from nowcast.core import ConfigError, NotDoneError, iso, short_duration, write_text_atomic

pipeline_app = typer.Typer(help="Write and check pipeline files.", no_args_is_help=True)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LISTED = 5  # file names shown per finding


def checked_name(name: str) -> str:
    """A pipeline name that is a plain file stem; anything else stops with exit 2."""
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"pipeline name {name!r}: use letters, digits, '-' and '_' (at most 64), "
            "starting with a letter or digit"
        )
    return name


@pipeline_app.command("new")
def new(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the pipeline (its file is NAME.toml)."),
    source: str = typer.Option(
        ...,
        "--from",
        help="Folder of the source's files (searched below, hidden files left), or the "
        "http(s) URL of a folder's listing (the index page a web server shows): an http "
        "pipeline then fetches each file by its URL.",
    ),
    out: Path | None = out_option("File to write (default: NAME.toml in the pipelines folder)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Draft a pipeline from a folder of files, or from a web folder's listing: it works as
    written, with comments saying what was found.

    Finds the time pattern in the names (also when letters vary, as `V_`/`F_` suffixes), the
    cadence, the format (pysteps' importers and nowcast's readers, tried in turn), shape,
    units, no-data, a valid range and the share of outlier pixels, and the windows the default
    radar model takes. From a URL, a few files are fetched to be read. Exits 3 when no reader
    reads the files, 4 when the listing cannot be fetched, 2 on a bad name or an existing file
    without --force.
    """
    from nowcast.ingest import draft_pipeline, inspect_folder, inspect_listing, is_url

    settings = app_state(ctx).settings
    checked_name(name)
    target = out or settings.pipelines_dir / f"{name}.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; pass --force to replace it")
    if out is not None and out.stem != name:
        raise ConfigError(f"--out {out}: the file must be called {name}.toml")
    if is_url(source):
        with tempfile.TemporaryDirectory() as scratch:
            found = inspect_listing(source, Path(scratch))
    else:
        found = inspect_folder(Path(source).expanduser().resolve())
    text = draft_pipeline(name, found)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, text)
    console = output_console()
    times = sorted(found.names.times.values())
    console.print(
        f"{target}: {found.names.pattern} ({len(times)} files, every "
        f"{short_duration(found.cadence)}, {iso(times[0])} to {iso(times[-1])}), "
        f"format {found.probe.format}, {found.units or 'no units'}"
    )
    if found.remote:
        console.print(f"next: nowcast ingest -p {name} --since {iso(times[0])}")
    else:
        console.print(f"next: nowcast pipeline check {name}; nowcast ingest -p {name}")


@pipeline_app.command("check")
def check(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Pipeline to check (a file in the pipelines folder)."),
) -> None:
    """What a run would take from the pipeline's folder, and what it would not, and why.

    Lists matched and unmatched files, warns when unmatched files look like the matched ones
    (a pattern that takes only part of a series), shows time gaps and duplicate times, and
    reads every matched file with the pipeline's reader and checks. Writes nothing. Exits 5
    when a run would not take the whole series, 2 for a bad pipeline.
    """
    from nowcast.ingest import check_pipeline, load_pipeline

    config = load_pipeline(app_state(ctx).settings, checked_name(name))
    console = output_console()
    with Progress(console=output_console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"reading {name}", total=None)
        report = check_pipeline(
            config, lambda done, total: bar.update(task, completed=done, total=total)
        )
    times = sorted(set(report.matched.values()))
    console.print(f"{report.folder}: pattern {report.pattern}")
    span = f", {iso(times[0])} to {iso(times[-1])}" if times else ""
    console.print(f"matched: {_files(len(report.matched))}{span}")
    console.print(f"unmatched: {_files(len(report.unmatched))}{_some(report.unmatched)}")
    if report.look_alike:
        console.print(
            f"warning: {len(report.look_alike)} unmatched files look like the series "
            f"(same shape of name){_some(report.look_alike)}; the pattern takes only part "
            "of it"
        )
    for start, end in report.gaps:
        console.print(f"gap: nothing between {iso(start)} and {iso(end)}")
    for time, names in report.duplicates.items():
        console.print(f"duplicate time {iso(time)}: {', '.join(names)}")
    if report.off_cadence:
        console.print(
            f"off the {short_duration(config.cadence)} cadence (a run rejects them): "
            f"{len(report.off_cadence)}{_some(report.off_cadence)}"
        )
    for file, reason in sorted(report.rejected.items())[:LISTED]:
        console.print(f"would reject {file}: {reason}")
    if len(report.rejected) > LISTED:
        console.print(f"... and {len(report.rejected) - LISTED} more rejected")
    if not report.passed:
        raise NotDoneError(f"pipeline {name}: a run would not take the whole series (see above)")
    console.print(f"ok: a run takes all {len(report.matched)} files")


def _files(count: int) -> str:
    """`1 file`, `2 files`."""
    return f"{count} file" + ("" if count == 1 else "s")


def _some(names: list[str]) -> str:
    """A few names as `: a, b, c, ...` (nothing for none)."""
    if not names:
        return ""
    more = ", ..." if len(names) > LISTED else ""
    return ": " + ", ".join(names[:LISTED]) + more
