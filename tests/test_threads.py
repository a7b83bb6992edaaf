"""Torch gets only the cores that are free: the /proc/stat sample and the thread choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from nowcast.core import threads


@pytest.fixture(autouse=True)
def _restore_torch_threads(monkeypatch):
    monkeypatch.setattr(threads, "_pinned", None)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _stat(path: Path, total_idle: tuple[int, int]) -> None:
    """A /proc/stat whose first line has `total` jiffies, `idle` of them idle (none iowait)."""
    total, idle = total_idle
    path.write_text(f"cpu  {total - idle} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\n")


def test_busy_cpus_is_the_busy_fraction_of_every_core(tmp_path: Path, monkeypatch) -> None:
    stat = tmp_path / "stat"
    _stat(stat, (1000, 800))
    monkeypatch.setattr(threads.time, "sleep", lambda _: _stat(stat, (2000, 1550)))
    cores = os.cpu_count() or 1
    assert threads.busy_cpus(stat=stat) == pytest.approx(cores * 0.25)


def test_busy_cpus_is_unknown_without_proc_stat(tmp_path: Path) -> None:
    assert threads.busy_cpus(sample_s=0, stat=tmp_path / "absent") is None


def test_busy_cpus_on_this_machine_is_within_its_cores() -> None:
    busy = threads.busy_cpus(sample_s=0.05)
    assert busy is None or 0.0 <= busy <= (os.cpu_count() or 1)


def test_free_cores_set_the_threads_and_a_full_machine_leaves_one(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "torch_default_threads", lambda: 4)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "allowed_cpus", lambda: 4)
    for busy, expected in ((0.2, 4), (1.6, 2), (4.0, 1), (None, 4)):
        monkeypatch.setattr(threads, "busy_cpus", lambda busy=busy: busy)
        assert threads.use_free_cpus() == expected
        assert torch.get_num_threads() == expected


def test_omp_num_threads_is_the_users_choice(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0.0)
    assert threads.use_free_cpus() == 1


def test_a_pinned_count_beats_the_free_cores(monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0.0)
    threads.pin_threads(1)
    assert threads.use_free_cpus() == 1 == torch.get_num_threads()


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({}, None),
    ],
)
def test_cgroup_quota_from_a_fake_cgroup_folder(
    tmp_path: Path, files: dict[str, str], quota: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert threads.cgroup_cpus(tmp_path) == quota


def test_threads_respect_affinity_and_cgroup_quota(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_pinned", None)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _: {0, 1, 2, 3, 4, 5})
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.allowed_cpus(tmp_path) == 2  # 1.5 cores of quota: two threads share them
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.allowed_cpus(tmp_path) == 6  # no quota: the affinity mask decides
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _: {3})
    assert threads.allowed_cpus(tmp_path) == 1
    monkeypatch.setattr(threads, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(threads, "torch_default_threads", lambda: 8)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0.0)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _: {0, 1, 2, 3, 4, 5})
    (tmp_path / "cpu.max").write_text("300000 100000\n")
    assert threads.use_free_cpus() == 3 == torch.get_num_threads()
