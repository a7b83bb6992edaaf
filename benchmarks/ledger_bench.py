"""Ledger query time: 50,000 synthetic attempts in the SQLite ingest ledger, then the queries
an ingest run makes (inputs rejected under the current definition) and `status` makes (the
newest entry). Prints the median of `--repeats` timings of each; the bar is 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nowcast.ingest.ledger import Entry, Ledger  # noqa: E402

STATUSES = ("fetched", "skipped", "rejected", "pending")


def fill(ledger: Ledger, count: int) -> None:
    """`count` entries over two definitions, a quarter of them rejected, in one transaction."""
    for index in range(count):
        status = STATUSES[index % len(STATUSES)]
        definition = "a" * 16 if index % 3 else "b" * 16
        time_text = f"2024-01-01T00:00:{index:09d}Z"
        source = f"/data/frame_{index:06d}.nc"
        fingerprint = f"{index}:1"
        entry = Entry(
            time_text, "run", "bench", time_text, status, "", source, fingerprint, definition
        )
        ledger.record(entry)
    ledger.flush()


def median_ms(call, repeats: int) -> float:  # noqa: ANN001 - any zero-argument callable
    """Median wall-clock milliseconds of `call`."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    """Build the ledger in a temporary folder and print the median query times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder) / "archive.zarr", "bench")
        started = time.perf_counter()
        fill(ledger, args.entries)
        written = time.perf_counter() - started
        rejected = ledger.rejected("a" * 16)
        print(f"ledger: {args.entries:,} entries written in {written:.2f} s")
        print(f"rejected under one definition: {len(rejected):,} inputs")
        for name, call in (
            ("rejected(definition)", lambda: ledger.rejected("a" * 16)),
            ("last()", ledger.last),
        ):
            print(f"median {name}: {median_ms(call, args.repeats):.2f} ms")


if __name__ == "__main__":
    main()
