"""`nowcast archive migrate`: rewrite old groups (model-scale values) in physical units."""

from __future__ import annotations

import typer

from nowcast.cli.console import output_console
from nowcast.cli.state import app_state
from nowcast.core import DataMissingError

archive_app = typer.Typer(help="Maintain the Zarr archive.", no_args_is_help=True)


@archive_app.command("migrate")
def migrate(
    ctx: typer.Context,
    groups: list[str] = typer.Argument(
        None, help="Groups to migrate, e.g. demo or digital-typhoon/202224 (default: every group)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list the groups that still hold model-scale values."
    ),
) -> None:
    """Rewrite old groups (values on the model's 0..1 scale) in physical units, in place.

    Stores written before physical values were stored are read correctly without this; after
    it, plain `xr.open_zarr` shows physical values too. Each group is swapped in by renames
    under the archive lock, so an interrupted migration leaves the old array readable. A group
    already physical is left as it is. Exits 3 when the archive or a named group is missing.
    """
    from nowcast.store import Archive

    settings = app_state(ctx).settings
    archive = Archive.require(settings.archive)
    known = archive.groups()
    unknown = [name for name in groups or [] if name not in known]
    if unknown:
        raise DataMissingError(
            f"archive {settings.archive} has no group {', '.join(map(repr, unknown))}"
            f" (has: {', '.join(known) or 'none'})"
        )
    console = output_console(stderr=True)
    for name in groups or known:
        if not archive.needs_migration(name):
            console.print(f"{name}: physical already")
        elif dry_run:
            console.print(f"{name}: model scale, would be migrated")
        else:
            archive.migrate(name)
            console.print(f"{name}: migrated to physical units")
