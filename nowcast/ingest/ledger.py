"""The ingest ledger: one SQLite row per attempt (fetched, skipped, pending, rejected, failed).

It lives beside the store (`<archive>.ledger.sqlite` next to `<archive>.zarr`), indexed by
pipeline, status and source, so later runs find the inputs rejected before under the same
pipeline definition, and those whose last outcome is a rejection under another definition
(read again whatever the time window), without scanning every attempt. A legacy
`<archive>/.ledger/<pipeline>.jsonl` is imported on first open and renamed `*.jsonl.migrated`.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from nowcast.core import is_plain_utf8

LEGACY_DIR = ".ledger"
STATUSES = ("fetched", "skipped", "pending", "rejected", "failed")
COLUMNS = ("at", "run", "grp", "time", "status", "reason", "source", "fingerprint", "definition")
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    at TEXT NOT NULL, run TEXT NOT NULL, grp TEXT NOT NULL, time TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL,
    fingerprint TEXT, definition TEXT
);
CREATE INDEX IF NOT EXISTS entries_rejected
    ON entries (pipeline, status, definition, source, fingerprint);
CREATE INDEX IF NOT EXISTS entries_order ON entries (pipeline, id);
"""
# Added by writers only, so a reader of an older ledger (`nowcast status`) never has to write.
WRITER_SCHEMA = "CREATE INDEX IF NOT EXISTS entries_source ON entries (pipeline, source, grp, id);"
# A later entry for the same input that settles a rejection: read again (fetched or rejected),
# or, with `{definition}`, judged under that definition without a read (archived, gone).
SETTLED = """NOT EXISTS (SELECT 1 FROM entries AS later WHERE later.pipeline = entries.pipeline
    AND later.source = entries.source AND later.grp = entries.grp AND later.id > entries.id
    AND (later.status IN ('fetched', 'rejected') {definition}))"""


@dataclass(frozen=True)
class Rejection:
    """An input whose last outcome is a rejection: where it is, its group and valid time."""

    source: str
    group: str
    time: str


@dataclass(frozen=True)
class Entry:
    """One attempt at one frame; `definition` is the pipeline definition's fingerprint."""

    at: str
    run: str
    group: str
    time: str
    status: str
    reason: str
    source: str
    fingerprint: str | None = None
    definition: str | None = None


def ledger_path(archive_path: Path) -> Path:
    """The SQLite file beside the archive store: `archive.zarr` -> `archive.ledger.sqlite`."""
    return archive_path.with_name(f"{archive_path.stem}.ledger.sqlite")


class Ledger:
    """The attempt log of one pipeline, in the archive's shared SQLite ledger."""

    def __init__(self, archive_path: Path, pipeline: str) -> None:
        self.path = ledger_path(archive_path)
        self.pipeline = pipeline
        self.legacy = archive_path / LEGACY_DIR / f"{pipeline}.jsonl"
        self._pending: list[Entry] = []
        if self.legacy.is_file():
            self._migrate()

    def _connect(self, write: bool = False) -> sqlite3.Connection:
        """A connection with the schema in place (the file is created on first use); for a
        writer, with the writers' index too."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.as_os_errors():
            connection = sqlite3.connect(self.path, timeout=30)
            connection.executescript(SCHEMA + WRITER_SCHEMA if write else SCHEMA)
        return connection

    @contextmanager
    def as_os_errors(self) -> Iterator[None]:
        """SQLite's write failures as the OSError they stand for, naming the ledger's path, so
        they read like every other file-system failure (see `describe_os_error`)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            cause = _os_cause(str(exc), self.path.parent)
            if cause is None:
                raise
            raise OSError(cause, os.strerror(cause), str(self.path)) from exc

    def _insert(self, connection: sqlite3.Connection, entries: list[Entry]) -> None:
        """Insert entries in one statement batch (the caller commits)."""
        marks = ", ".join("?" * (len(COLUMNS) + 1))
        rows = [tuple(map(_storable, (self.pipeline, *astuple(entry)))) for entry in entries]
        connection.executemany(
            f"INSERT INTO entries (pipeline, {', '.join(COLUMNS)}) VALUES ({marks})", rows
        )

    def _migrate(self) -> None:
        """Import the legacy JSON-lines ledger once, then rename it out of the way."""
        with self.legacy.open(encoding="utf-8") as handle:
            entries = [e for e in map(_parse, handle) if e is not None]
        with closing(self._connect(write=True)) as connection, connection:
            self._insert(connection, entries)
        self.legacy.rename(self.legacy.with_name(self.legacy.name + ".migrated"))

    def record(self, entry: Entry) -> None:
        """Queue an entry; `flush` writes queued entries in one transaction."""
        if entry.status not in STATUSES:
            raise ValueError(f"unknown ledger status {entry.status!r}")
        self._pending.append(entry)

    @property
    def pending(self) -> int:
        """How many entries are queued and not yet written."""
        return len(self._pending)

    def flush(self) -> None:
        """Write queued entries in one transaction."""
        if not self._pending:
            return
        with closing(self._connect(write=True)) as connection, self.as_os_errors(), connection:
            self._insert(connection, self._pending)
        self._pending.clear()

    def _select(
        self,
        where: str = "",
        args: tuple[object, ...] = (),
        tail: str = "",
        columns: str = "",
        write: bool = False,
    ) -> list[tuple]:
        """Rows (all columns, or `columns`) of this pipeline's entries matching `where`; `write`
        for a query of the writer (ingest) that needs the writers' index."""
        if not self.path.is_file():
            return []
        query = f"SELECT {columns or ', '.join(COLUMNS)} FROM entries WHERE pipeline = ? "
        with closing(self._connect(write)) as connection:
            rows = connection.execute(f"{query} {where} {tail}", (self.pipeline, *args)).fetchall()
        return [tuple(map(_text, row)) for row in rows]

    def entries(self) -> Iterator[Entry]:
        """Every entry written so far, oldest first."""
        yield from (Entry(*row) for row in self._select(tail="ORDER BY id"))

    def rejected(self, definition: str | None = None) -> dict[tuple[str, str], str]:
        """The latest reason for each (source, fingerprint) rejected under this definition."""
        match = "definition = ?" if definition is not None else "definition IS NULL"
        args = (definition,) if definition is not None else ()
        where = f"AND status = 'rejected' AND {match} AND fingerprint IS NOT NULL"
        rows = self._select(where, args, "ORDER BY id", columns="source, fingerprint, reason")
        return {(source, fingerprint): reason for source, fingerprint, reason in rows}

    def to_read_again(self, definition: str, every: bool = False) -> list[Rejection]:
        """Inputs whose last outcome is a rejection under a definition other than `definition`
        (`every`: under any definition), oldest first: read again whatever the time window.

        A later read of the input (fetched or rejected), or a skip under `definition` (archived
        meanwhile, no longer offered), settles it; `every` counts only reads.
        """
        if every:
            where = f"AND status = 'rejected' AND {SETTLED.format(definition='')}"
            args: tuple[object, ...] = ()
        else:
            skipped = "OR (later.status = 'skipped' AND later.definition = ?)"
            where = (
                "AND status = 'rejected' AND definition IS NOT ? "
                f"AND {SETTLED.format(definition=skipped)}"
            )
            args = (definition, definition)
        columns = "source, grp, time"
        rows = self._select(where, args, "ORDER BY time, id", columns, write=True)
        return [Rejection(*row) for row in rows]

    def fetched(self) -> set[tuple[str, str]]:
        """(group, time) of every frame recorded as fetched."""
        return set(self._select("AND status = 'fetched'", columns="grp, time"))

    def last(self) -> Entry | None:
        """The newest entry."""
        rows = self._select(tail="ORDER BY id DESC LIMIT 1")
        return Entry(*rows[0]) if rows else None


def _os_cause(message: str, folder: Path) -> int | None:
    """The errno behind an SQLite message about writing, or None for any other failure."""
    if "disk is full" in message:
        return errno.ENOSPC
    if "readonly database" not in message and "unable to open database file" not in message:
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return errno.EROFS
    except OSError:
        return errno.ENOENT
    return errno.EACCES


def _storable(value: object) -> object:
    """A value SQLite can hold: text that carries undecodable bytes of a file name (Python's
    surrogate escapes) is stored as those bytes, which `_text` turns back into the same str."""
    if isinstance(value, str) and not is_plain_utf8(value):
        return value.encode("utf-8", "surrogateescape")
    return value


def _text(value: object) -> object:
    """A value as it was recorded (see `_storable`)."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def astuple(entry: Entry) -> tuple[object, ...]:
    """An entry's values in column order."""
    return tuple(getattr(entry, f.name) for f in fields(entry))


def _parse(line: str) -> Entry | None:
    """An entry from one legacy JSON line, or None for a torn or foreign line."""
    try:
        return Entry(**json.loads(line))
    except (json.JSONDecodeError, TypeError):
        return None
