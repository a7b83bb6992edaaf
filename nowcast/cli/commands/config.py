"""`nowcast config show|check`: print or validate the configuration."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nowcast.cli.console import output_console
from nowcast.cli.state import app_state
from nowcast.core import ConfigError
from nowcast.settings import Settings, load_settings

config_app = typer.Typer(help="Show or validate the configuration.", no_args_is_help=True)


def missing_paths(settings: Settings) -> list[str]:
    """Problems with the files the settings point to: pipelines folder and pipeline files."""
    if not settings.pipelines_dir.is_dir():
        return [f"pipelines_dir: folder not found: {settings.pipelines_dir}"]
    available = sorted(p.stem for p in settings.pipelines_dir.glob("*.toml"))
    return [
        f"pipelines: no pipeline file {name}.toml in {settings.pipelines_dir} "
        f"(available: {', '.join(available) or 'none'})"
        for name in settings.pipelines
        if name not in available
    ]


@config_app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective configuration as JSON, with every default filled in."""
    settings = app_state(ctx).settings
    typer.echo(json.dumps(settings.model_dump(mode="json"), indent=2))


@config_app.command("check")
def check(
    ctx: typer.Context,
    path: Path | None = typer.Argument(
        None, help="Config file to validate (default: the global --config or ./nowcast.toml)."
    ),
) -> None:
    """Validate a config file: keys, types and the paths it names. Exits 2 on the first problem."""
    state = app_state(ctx)
    target = path or state.config_path
    settings = load_settings(target, archive=state.archive) if target else state.settings
    problems = missing_paths(settings)
    if problems:
        raise ConfigError(f"{target or 'configuration'}: " + "; ".join(problems))
    output_console(stderr=True).print(f"[green]ok[/green] {target or 'defaults'}")
