"""The scheduler's heartbeat as the page shows it: state, per-pipeline jobs, the last error.

Only times, job names and one-line summaries leave the server; absolute paths inside them are
cut down to their last part, and pid, host and archive path are left out.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from nowcast.core import parse_iso
from nowcast.settings import Settings
from nowcast.store import SILENT_AFTER_S, heartbeat_path, read_heartbeat

ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:/[\w.@+~-]+)+")


def scrub(text: str) -> str:
    """Text with each absolute path replaced by `.../<last part>`."""
    return ABSOLUTE_PATH.sub(lambda m: ".../" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _event(entry: dict[str, Any] | None) -> dict[str, str] | None:
    """A job outcome `{at, summary}` with its paths scrubbed."""
    if not entry:
        return None
    return {"at": str(entry.get("at", "")), "summary": scrub(str(entry.get("summary", "")))}


def scheduler_state(settings: Settings, now: pd.Timestamp) -> dict[str, Any]:
    """`{state, alive_at, started_at, stopped_at, last_error, jobs}`; state `absent` if none."""
    data = read_heartbeat(heartbeat_path(settings.schedule.state_dir))
    if data is None:
        return {"state": "absent", "last_error": None, "jobs": {}}
    alive = parse_iso(data.get("alive_at"))
    if data.get("stopped_at"):
        state = "stopped"
    elif alive is None or (now - alive).total_seconds() > SILENT_AFTER_S:
        state = "silent"
    else:
        state = "running"
    error = data.get("last_error") or None
    jobs = {
        str(name): {
            "last_success": _event(entry.get("last_success")),
            "last_error": _event(entry.get("last_error")),
        }
        for name, entry in sorted((data.get("jobs") or {}).items())
        if isinstance(entry, dict)
    }
    return {
        "state": state,
        "started_at": data.get("started_at"),
        "alive_at": data.get("alive_at"),
        "stopped_at": data.get("stopped_at"),
        "last_error": (
            {
                "job": str(error.get("job", "")),
                "at": str(error.get("at", "")),
                "message": scrub(str(error.get("message", ""))),
            }
            if isinstance(error, dict)
            else None
        ),
        "jobs": jobs,
    }


def pipeline_jobs(state: dict[str, Any], pipeline: str) -> dict[str, Any]:
    """The scheduler jobs of one pipeline (`ingest:<pipeline>`, `forecast:<pipeline>`, ...)."""
    return {
        job: entry
        for job, entry in state.get("jobs", {}).items()
        if job.rpartition(":")[2] == pipeline
    }
