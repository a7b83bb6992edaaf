"""A frame made of several files (Himawari segments) carried as one payload: a plain tar.

Sources that download a frame in parts pack the parts, as downloaded, into an uncompressed
tar in memory; the reader unpacks them. A quarantined frame is then one file that standard
tools open (`tar tf`), holding exactly the bytes that came in.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import PurePosixPath

BUNDLE_SUFFIX = ".tar"


def pack(parts: dict[str, bytes]) -> bytes:
    """A tar holding each named part (names without folders), in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in parts.items():
            info = tarfile.TarInfo(PurePosixPath(name).name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack(data: bytes, max_parts: int = 64) -> dict[str, bytes]:
    """The named parts of a bundle; ValueError for anything but a flat tar of regular files."""
    parts: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if not member.isfile() or name != member.name or len(parts) >= max_parts:
                    raise ValueError(f"unexpected bundle member {member.name!r}")
                handle = tar.extractfile(member)
                parts[name] = handle.read() if handle is not None else b""
    except tarfile.TarError as exc:
        raise ValueError(f"not a bundle of segments ({exc})") from None
    if not parts:
        raise ValueError("empty bundle")
    return parts
