"""bz2 decompression with a size cap, in pieces, so a corrupt or hostile file fails cleanly.

A bz2 file of a few megabytes can expand to gigabytes; these helpers stop at `max_bytes`
and raise ValueError (which ingest treats as a bad input) for corrupt, truncated or oversized
data. Files written by parallel compressors hold several streams back to back; all are read.
"""

from __future__ import annotations

import bz2
from collections.abc import Iterator

PIECE = 1 << 22


def bunzip2_pieces(data: bytes, max_bytes: int) -> Iterator[bytes]:
    """Decompressed pieces of (multi-stream) bz2 data; ValueError when corrupt or too large."""
    if not data:
        raise ValueError("empty bz2 data")
    total = 0
    rest = data
    while rest:
        decompressor = bz2.BZ2Decompressor()
        pending = rest
        while not decompressor.eof:
            try:
                piece = decompressor.decompress(pending, max_length=PIECE)
            except OSError as exc:
                raise ValueError(f"corrupt bz2 data ({exc})") from None
            pending = b""
            if not piece and decompressor.needs_input:
                raise ValueError("truncated bz2 data (the stream ends early)")
            total += len(piece)
            if total > max_bytes:
                raise ValueError(f"bz2 data expands beyond the size cap ({max_bytes} bytes)")
            yield piece
        rest = decompressor.unused_data


def bunzip2(data: bytes, max_bytes: int) -> bytes:
    """The whole decompressed content of bz2 data, at most `max_bytes` long."""
    return b"".join(bunzip2_pieces(data, max_bytes))
