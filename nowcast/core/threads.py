"""Give torch only the CPU cores that are free now: threads waiting for a busy core stall."""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")

# Thread count the user chose (`--threads`, a benchmark flag); None lets the free cores decide.
_pinned: int | None = None


@functools.cache
def torch_default_threads() -> int:
    """torch's own intra-op thread count (physical cores), read once before anything changes it."""
    return torch.get_num_threads()


def _cpu_times(stat: Path) -> tuple[int, int]:
    """Total and idle (idle + iowait) jiffies of all CPUs from the first line of /proc/stat."""
    fields = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields), fields[3] + fields[4]


def busy_cpus(sample_s: float = 0.1, stat: Path = PROC_STAT) -> float | None:
    """How many cores other work keeps busy, sampled over `sample_s`; None where unknown."""
    try:
        total_before, idle_before = _cpu_times(stat)
        time.sleep(sample_s)
        total_after, idle_after = _cpu_times(stat)
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total_after - total_before
    if elapsed <= 0:
        return None
    return (os.cpu_count() or 1) * (1.0 - (idle_after - idle_before) / elapsed)


def pin_threads(count: int) -> None:
    """Use exactly `count` torch threads from now on, whatever the free cores."""
    global _pinned
    _pinned = count
    torch.set_num_threads(count)


def use_free_cpus() -> int:
    """Set torch's threads to the free cores (at least one) unless the user chose a count,
    with `pin_threads` or OMP_NUM_THREADS."""
    if _pinned is not None or "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads()
    default = torch_default_threads()
    busy = busy_cpus()
    free = default if busy is None else round((os.cpu_count() or 1) - busy)
    threads = max(1, min(default, free))
    torch.set_num_threads(threads)
    log.debug("torch threads: %d (busy cores: %s)", threads, busy)
    return threads
