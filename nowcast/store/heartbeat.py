"""The scheduler's health file: pid, start and beat times, last success and error per job.

The scheduler writes it; `nowcast status`, the live page and any liveness probe read it, so it
sits here with the other files one stage hands another.

`<state_dir>/heartbeat.json` is rewritten atomically after every job, so `nowcast status` (and
any liveness probe) always reads a whole file. It stays light to import: no data stack.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nowcast.core import write_text_atomic

HEARTBEAT_FILE = "heartbeat.json"
BEAT_SECONDS = 60  # how often a running scheduler shows it is alive, even with no job due
SILENT_AFTER_S = 3 * BEAT_SECONDS  # this long without a beat means the scheduler is gone

Status = Literal["ok", "skipped", "error"]
# The key under each job where the newest outcome of each status is kept.
STATUS_KEYS: dict[str, str] = {
    "ok": "last_success",
    "skipped": "last_skipped",
    "error": "last_error",
}


@dataclass(frozen=True)
class Outcome:
    """What one step of a job did: its name (`ingest:demo`), ok/skipped/error, one line."""

    job: str
    status: Status
    summary: str


def heartbeat_path(state_dir: Path) -> Path:
    """Where a scheduler keeping its state in `state_dir` (`schedule.state_dir`) writes its
    health file."""
    return state_dir / HEARTBEAT_FILE


def stamp() -> str:
    """The current time as ISO 8601 UTC with a trailing Z (the data stack loads only here)."""
    from nowcast.core import iso, now_utc

    return iso(now_utc())


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    """The health file's content, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Heartbeat:
    """The health file of one running scheduler; thread-safe, as jobs finish on pool threads."""

    def __init__(self, path: Path, archive: Path) -> None:
        previous = read_heartbeat(path) or {}
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "archive": str(archive),
            "started_at": None,
            "alive_at": None,
            "stopped_at": None,
            "jobs": previous.get("jobs", {}),
            "last_error": previous.get("last_error"),
        }

    def _update(self, **fields: Any) -> None:
        """Set top-level fields and rewrite the file."""
        with self._lock:
            self._data.update(fields)
            self._write()

    def started(self, *_: object) -> None:
        """Mark the scheduler as started (a scheduler-event listener)."""
        now = stamp()
        self._update(started_at=now, alive_at=now, stopped_at=None)

    def stopped(self, *_: object) -> None:
        """Mark the scheduler as stopped after its last job finished (a listener)."""
        self._update(stopped_at=stamp())

    def beat(self) -> None:
        """Show that the scheduler is alive even when no job finishes for a while."""
        self._update(alive_at=stamp())

    def record(self, outcomes: list[Outcome]) -> None:
        """Store each outcome under its job; errors also become the scheduler's last error."""
        with self._lock:
            now = stamp()
            for outcome in outcomes:
                entry = self._data["jobs"].setdefault(outcome.job, {})
                entry[STATUS_KEYS[outcome.status]] = {"at": now, "summary": outcome.summary}
                if outcome.status == "error":
                    self._data["last_error"] = {
                        "job": outcome.job,
                        "at": now,
                        "message": outcome.summary,
                    }
            self._data["alive_at"] = now
            self._write()

    def _write(self) -> None:
        """Replace the file atomically (caller holds the lock)."""
        write_text_atomic(self.path, json.dumps(self._data, indent=2) + "\n")
