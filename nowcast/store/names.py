"""Names taken from file names or URLs (storm ids, group names), validated before any path.

A name becomes a Zarr group and a folder, so it must be short, use a safe character set,
start with a letter or digit (no `.`, `..` or dot-files), and never be one of
Zarr's metadata names.
"""

from __future__ import annotations

import re

MAX_NAME_CHARS = 64
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
ZARR_METADATA = frozenset({".zgroup", ".zattrs", ".zarray", ".zmetadata", "zarr.json"})


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a group or folder name, or None when it is safe."""
    shown = repr(name[:MAX_NAME_CHARS])
    if not name:
        return "empty name"
    if len(name) > MAX_NAME_CHARS:
        return f"name {shown}... is longer than {MAX_NAME_CHARS} characters"
    if name in ZARR_METADATA or name.lower().startswith("zarr."):
        return f"name {shown} is a Zarr metadata name"
    if not SAFE_NAME.fullmatch(name):
        return f"name {shown}: use letters, digits, '_', '-', '.', starting with a letter or digit"
    return None


def group_problem(group: str) -> str | None:
    """Why an archive group path (`pipeline/storm`) is unsafe, or None."""
    for part in group.split("/"):
        problem = name_problem(part)
        if problem is not None:
            return problem
    return None
