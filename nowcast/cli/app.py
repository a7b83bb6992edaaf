"""The `nowcast` command line: global options and the subcommands, kept thin."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from typer.core import TyperGroup

from nowcast.cli.commands.archive import archive_app
from nowcast.cli.commands.config import config_app
from nowcast.cli.commands.crossval import crossval
from nowcast.cli.commands.demo import demo
from nowcast.cli.commands.forecast import forecast
from nowcast.cli.commands.ingest import ingest
from nowcast.cli.commands.pipeline import pipeline_app
from nowcast.cli.commands.render import render
from nowcast.cli.commands.schedule import schedule
from nowcast.cli.commands.serve import serve
from nowcast.cli.commands.status import status
from nowcast.cli.commands.train import finetune, train
from nowcast.cli.commands.validate import validate
from nowcast.cli.commands.verify import verify
from nowcast.cli.logs import configure_logging
from nowcast.cli.state import AppState
from nowcast.core import EXIT_FAILURE, NowcastError, __version__, describe_os_error, one_line

log = logging.getLogger("nowcast")
# Usage errors that click reports itself (exit 2): click's base class, wherever this typer
# takes click from (recent typer releases bundle their own copy).
CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class NowcastGroup(TyperGroup):
    """Root command group that turns failures into one line and a documented exit code."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except NowcastError as exc:
            typer.echo(f"error: {one_line(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            ctx.exit(130)
        except (typer.Exit, typer.Abort, CLICK_ERROR):
            raise
        except Exception as exc:
            if isinstance(ctx.obj, AppState) and ctx.obj.verbose:
                raise
            log.debug("unexpected error", exc_info=True)
            known = describe_os_error(exc) if isinstance(exc, OSError) else None
            if known is not None:
                typer.echo(f"error: {known}", err=True)
                ctx.exit(EXIT_FAILURE)
            text = one_line(f"{type(exc).__name__}: {exc}")
            typer.echo(f"error: {text} (rerun with --verbose)", err=True)
            ctx.exit(EXIT_FAILURE)


app = typer.Typer(
    name="nowcast",
    cls=NowcastGroup,
    help="Operational typhoon and radar nowcasting with MoDeRNN.\n\n"
    "Exit codes: 0 ok, 1 unexpected error, 2 bad usage or config, 3 data missing, "
    "4 upstream source or pipeline failed, 5 ran but did not do what was asked.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"nowcast {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", envvar="NOWCAST_CONFIG", help="Config TOML (default ./nowcast.toml)."
    ),
    archive: Path | None = typer.Option(
        None, "--archive", help="Zarr archive path (overrides config and NOWCAST_ARCHIVE)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logs and tracebacks."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
    log_json: bool = typer.Option(False, "--log-json", help="Log as JSON lines."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Global options shared by every command."""
    configure_logging(verbose=verbose, quiet=quiet, json_lines=log_json)
    ctx.obj = AppState(
        config_path=config,
        archive=archive.resolve() if archive else None,
        verbose=verbose,
        quiet=quiet,
    )


app.add_typer(config_app, name="config")
app.add_typer(archive_app, name="archive")
app.add_typer(pipeline_app, name="pipeline")
app.command()(status)
app.command()(validate)
app.command()(ingest)
app.command()(render)
app.command()(forecast)
app.command()(schedule)
app.command()(verify)
app.command()(train)
app.command()(finetune)
app.command()(crossval)
app.command()(demo)
app.command()(serve)


def main() -> None:
    """Console-script entry point."""
    app()
