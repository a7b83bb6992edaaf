"""The one atomic write: readers see the old file or the new one, never half of either."""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# A folder being replaced waits here until its successor is in place: a crash between the two
# renames leaves the previous version at `<path>.old`, where readers may look. Used only where
# the system cannot swap two folders in one step (see `_exchange`).
BACKUP_SUFFIX = ".old"
AT_FDCWD = -100
RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """The C library's renameat2, looked up once; None where it has none."""
    return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE), so a
    reader always finds one complete version at each; False where the system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    done = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    return done == 0


TEMPORARY_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp(\.[^/]*)?$")


def is_plain_utf8(text: str) -> bool:
    """Whether `text` encodes as UTF-8: False when it carries bytes of a file name that were
    not UTF-8 (kept by Python as surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def temporary_sibling(path: Path) -> Path:
    """A hidden name beside `path`, unique per process and call, keeping the suffix."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")


def _alive(pid: int) -> bool:
    """Whether a process with this id runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_temporaries(folder: Path) -> list[Path]:
    """Remove the temporaries that writers killed mid-write left in `folder` (their process is
    gone); return what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMPORARY_NAME.match(entry.name)
        if match and not _alive(int(match["pid"])):
            _remove(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def _fsync_tree(path: Path) -> None:
    """Flush a file, or every file below a folder, to disk."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def _remove(path: Path) -> None:
    """Remove a file or a folder tree, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace_folder(new: Path, path: Path) -> None:
    """Put folder `new` in place of folder `path`. Swapped in one step where the system can
    (the old version is then at `new`'s name, for the caller to remove); elsewhere through
    `<path>.old`, so a crash between the two renames leaves no half of either."""
    if _exchange(new, path):
        return
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    _remove(backup)
    os.replace(path, backup)
    os.replace(new, path)
    _remove(backup)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling to write (a file or a folder); on success, fsync it and rename
    it over `path`. On any error `path` is left as it was and the temporary is removed; the
    temporaries of writers that were killed are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temporaries(path.parent)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        _fsync_tree(tmp)
        if tmp.is_dir() and path.exists():
            _replace_folder(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's contents, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
