"""The ingest ledger: one JSON line per attempt (fetched, skipped, pending, rejected, failed).

It lives in the store (`<archive>/.ledger/<pipeline>.jsonl`), is appended under the archive
lock, and tells later runs which inputs were rejected before so they are not re-read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

LEDGER_DIR = ".ledger"
STATUSES = ("fetched", "skipped", "pending", "rejected", "failed")
TAIL_BYTES = 1 << 16


@dataclass(frozen=True)
class Entry:
    """One attempt at one frame."""

    at: str
    run: str
    group: str
    time: str
    status: str
    reason: str
    source: str
    fingerprint: str | None = None


class Ledger:
    """The append-only attempt log of one pipeline."""

    def __init__(self, archive_path: Path, pipeline: str) -> None:
        self.path = archive_path / LEDGER_DIR / f"{pipeline}.jsonl"
        self._pending: list[Entry] = []

    def record(self, entry: Entry) -> None:
        """Queue an entry; `flush` writes queued entries in one append."""
        if entry.status not in STATUSES:
            raise ValueError(f"unknown ledger status {entry.status!r}")
        self._pending.append(entry)

    @property
    def pending(self) -> int:
        """How many entries are queued and not yet written."""
        return len(self._pending)

    def flush(self) -> None:
        """Append queued entries to the file (call while holding the archive lock)."""
        if not self._pending:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(asdict(entry)) + "\n" for entry in self._pending)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        self._pending.clear()

    def entries(self) -> Iterator[Entry]:
        """Every entry written so far (a line cut short by a crash is skipped)."""
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                parsed = _parse(line)
                if parsed is not None:
                    yield parsed

    def rejected(self) -> set[tuple[str, str]]:
        """(source, fingerprint) of inputs rejected before, to skip them while unchanged."""
        return {
            (entry.source, entry.fingerprint)
            for entry in self.entries()
            if entry.status == "rejected" and entry.fingerprint
        }

    def last(self) -> Entry | None:
        """The newest entry, read from the end of the file."""
        if not self.path.is_file():
            return None
        with self.path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            lines = handle.read().decode("utf-8", "replace").splitlines()
        for line in reversed(lines):
            parsed = _parse(line)
            if parsed is not None:
                return parsed
        return None


def _parse(line: str) -> Entry | None:
    """An entry from one JSON line, or None for a torn or foreign line."""
    try:
        return Entry(**json.loads(line))
    except (json.JSONDecodeError, TypeError):
        return None
