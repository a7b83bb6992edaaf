"""Quarantine: rejected inputs kept aside with the reason, never archived.

`<archive folder>/quarantine/<pipeline>/<UTC time>-<name>` holds the input (moved, or copied
when the source must keep its originals) and `<same>.reason.json` says why and from where.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nowcast.core.timeutil import iso, now_utc
from nowcast.ingest.readers.base import Payload


def quarantine_dir(archive_path: Path, pipeline: str) -> Path:
    """Where a pipeline's rejected inputs go: beside the archive, never inside it."""
    return archive_path.parent / "quarantine" / pipeline


def quarantine(
    folder: Path,
    name: str,
    payload: Payload | None,
    reason: str,
    details: dict[str, str],
    move: bool,
) -> Path:
    """Set a rejected input aside with its reason; return the path of the reason file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now_utc().strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}-{Path(name).name}"
    if payload is not None and payload.data is not None:
        target.write_bytes(payload.data)
    elif payload is not None and payload.path is not None and payload.path.exists():
        if move:
            shutil.move(payload.path, target)
        else:
            shutil.copyfile(payload.path, target)
    note = target.with_name(target.name + ".reason.json")
    record = {"reason": reason, "quarantined_at": iso(now_utc()), **details}
    if target.exists():
        record["file"] = target.name
    note.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return note
