"""`${VAR}` and `${VAR:-default}` expansion for strings in config and pipeline files."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from nowcast.core import ConfigError

_PATTERN = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_string(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace each `${VAR}` (required) or `${VAR:-default}` with its value."""
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set (used as ${{{name}}})")

    return _PATTERN.sub(substitute, text)


def expand_tree(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Expand every string inside nested dicts and lists parsed from TOML."""
    if isinstance(value, str):
        return expand_string(value, environ)
    if isinstance(value, dict):
        return {key: expand_tree(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_tree(item, environ) for item in value]
    return value
