"""Per-invocation CLI state: the global options and the lazily loaded settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from nowcast.settings import Settings, load_settings


@dataclass
class AppState:
    """What the global options set, shared by every subcommand."""

    config_path: Path | None = None
    archive: Path | None = None
    verbose: bool = False
    quiet: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The effective settings, loaded on first use so `--help` never reads files."""
        if self._settings is None:
            self._settings = load_settings(self.config_path, archive=self.archive)
        return self._settings


def app_state(ctx: typer.Context) -> AppState:
    """The AppState of this invocation (a default one when a command is called directly)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj
