"""Give torch only the CPU cores that are free now: threads waiting for a busy core stall.

Never more than this process may use: its CPU affinity (`os.sched_getaffinity`) and its
container's CPU quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")
CGROUP_ROOT = Path("/sys/fs/cgroup")

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


def cgroup_cpus(root: Path | None = None) -> float | None:
    """The CPU quota of this container in cores (v2 `cpu.max`, else v1); None when unlimited."""
    root = root or CGROUP_ROOT
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        v1 = root / "cpu"
        if (v1 / "cpu.cfs_quota_us").is_file():
            quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
            period_us = int((v1 / "cpu.cfs_period_us").read_text())
            return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None
    return None


def allowed_cpus(root: Path | None = None) -> int:
    """Cores this process may run on: its affinity, capped by the cgroup quota (at least 1)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = cgroup_cpus(root)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)


def pin_threads(count: int) -> None:
    """Use exactly `count` torch threads from now on, whatever the free cores."""
    global _pinned
    _pinned = count
    torch.set_num_threads(count)


def free_cpus() -> int:
    """The cores idle now (at least one), never more than this process may use."""
    total = os.cpu_count() or 1
    busy = busy_cpus()
    free = total if busy is None else round(total - busy)
    return max(1, min(free, allowed_cpus()))


def use_free_cpus() -> int:
    """Set torch's threads to the free cores (at least one) unless the user chose a count,
    with `pin_threads` or OMP_NUM_THREADS."""
    if _pinned is not None or "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads()
    default = torch_default_threads()
    allowed = allowed_cpus()
    busy = busy_cpus()
    free = default if busy is None else round((os.cpu_count() or 1) - busy)
    threads = max(1, min(default, free, allowed))
    torch.set_num_threads(threads)
    log.debug("torch threads: %d (busy cores: %s, allowed: %d)", threads, busy, allowed)
    return threads
