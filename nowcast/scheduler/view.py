"""How `nowcast status` shows the scheduler's heartbeat: a state line and a table of jobs."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from nowcast.core import parse_iso, utc
from nowcast.store import SILENT_AFTER_S


def _time(at: str | None) -> str:
    """`2024-09-01 06:00Z` from a heartbeat time, or `-`."""
    return at.replace("T", " ")[:16] + "Z" if at else "-"


def _age_seconds(at: str | None, now: datetime) -> float:
    """Seconds since a heartbeat time (infinite when there is none)."""
    beat = parse_iso(at)
    if beat is None:
        return float("inf")
    return (utc(now) - beat).total_seconds()


def process_gone(pid: object, host: object) -> bool:
    """Whether the heartbeat's process ran on this host and no longer exists."""
    if host != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def scheduler_lines(data: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Running, stopped, gone or silent (died without stopping), with pid and host; last error."""
    where = f"pid {data.get('pid')} on {data.get('host')}"
    alive = data.get("alive_at")
    if data.get("stopped_at"):
        state = f"stopped {_time(data['stopped_at'])}"
    elif process_gone(data.get("pid"), data.get("host")):
        state = f"died after {_time(alive)} without stopping cleanly: start it again"
    elif _age_seconds(alive, now or datetime.now(UTC)) > SILENT_AFTER_S:
        state = f"silent since {_time(alive)}, not stopped cleanly: is it still running?"
    else:
        state = f"running since {_time(data.get('started_at'))}, last beat {_time(alive)}"
    lines = [f"scheduler: {state} ({where})"]
    error = data.get("last_error")
    if error:
        lines.append(
            f"last scheduler error: {error['job']} {_time(error['at'])}: {error['message']}"
        )
    return lines


def scheduler_table(data: dict[str, Any]) -> Table:
    """Per job: when it last succeeded (or was skipped) and what it did, and its last error."""
    table = Table(title="scheduler jobs")
    for name in ("job", "last success", "summary", "last error"):
        table.add_column(name)
    for job, entry in sorted(data.get("jobs", {}).items()):
        success, skipped, error = (
            entry.get(k) for k in ("last_success", "last_skipped", "last_error")
        )
        newest = max((e for e in (success, skipped) if e), key=lambda e: e["at"], default=None)
        summary = newest["summary"] if newest else ""
        if newest is not None and newest is skipped:
            summary = f"skipped: {summary}"
        failure = f"{_time(error['at'])} {error['summary']}" if error else "-"
        table.add_row(job, _time(success["at"] if success else None), summary, failure)
    return table
