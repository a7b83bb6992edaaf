"""Quarantine: rejected inputs kept aside with the reason, never archived.

`<archive folder>/quarantine/<pipeline>/<UTC time>-<name>` holds the input (moved, or copied
when the source must keep its originals) and `<same>.reason.json` says why and from where.
An input larger than MAX_KEPT_BYTES is not copied: the reason file records its size instead,
so a junk file of any size costs the disk only a few hundred bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nowcast.core import iso, now_utc
from nowcast.ingest.readers.base import Payload

MAX_KEPT_BYTES = 64 * 2**20


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
    max_kept_bytes: int = MAX_KEPT_BYTES,
) -> Path:
    """Set a rejected input aside with its reason; return the path of the reason file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now_utc().strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}-{Path(name).name}"
    record: dict[str, object] = {"reason": reason, "quarantined_at": iso(now_utc()), **details}
    size = _size(payload)
    if size is not None and size > max_kept_bytes and not move:
        record["not_kept"] = f"{size} bytes, over the {max_kept_bytes}-byte bound"
    elif payload is not None and payload.data is not None:
        target.write_bytes(payload.data)
    elif payload is not None and payload.path is not None and payload.path.exists():
        if move:
            shutil.move(payload.path, target)
        else:
            shutil.copyfile(payload.path, target)
    note = target.with_name(target.name + ".reason.json")
    if target.exists():
        record["file"] = target.name
    note.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return note


def _size(payload: Payload | None) -> int | None:
    """The input's size in bytes, where it is known without reading it."""
    if payload is None:
        return None
    if payload.data is not None:
        return len(payload.data)
    if payload.path is not None and payload.path.exists():
        return payload.path.stat().st_size
    return None
