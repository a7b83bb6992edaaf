"""`nowcast status`: what the archive holds, which model is in use, the last forecast."""

from __future__ import annotations

import typer
from rich.console import Console

from nowcast.errors import DataMissingError
from nowcast.state import app_state


def status(ctx: typer.Context) -> None:
    """Show the archive's sources, time coverage, gaps and last ingest, and the model in use."""
    settings = app_state(ctx).settings
    if not settings.archive.exists():
        raise DataMissingError(
            f"no archive yet at {settings.archive} (run `nowcast ingest` to create it)"
        )
    console = Console()
    console.print(f"archive: {settings.archive}")
    console.print(f"model: {settings.model}")
