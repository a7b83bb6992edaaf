"""One scheduler per archive: a non-blocking file lock beside the archive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from nowcast.core import ConfigError


def lock_path(archive: Path) -> Path:
    """`<archive>.scheduler.lock`: derived from the archive, so any config naming it agrees."""
    archive = archive.resolve()
    return archive.with_name(f"{archive.name}.scheduler.lock")


@contextmanager
def scheduler_lock(archive: Path) -> Iterator[Path]:
    """Hold the archive's scheduler lock, or refuse at once when another scheduler holds it."""
    path = lock_path(archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise ConfigError(
            f"another `nowcast schedule` is already running for the archive {archive} "
            f"(it holds {path}); stop it first"
        ) from None
    try:
        yield path
    finally:
        lock.release()
