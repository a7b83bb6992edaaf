"""Shared fixtures: where the real test data lives (`NOWCAST_TEST_DATA`, default ../shared/data).

Tests that need a file from it take the `shared_data` fixture (the folder) and, for one file or
sub-folder, call `shared_data_path(...)`; both skip with a clear reason when it is absent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def shared_data_root() -> Path:
    """The test-data folder: $NOWCAST_TEST_DATA, or `../shared/data` beside the repository."""
    return Path(os.environ.get("NOWCAST_TEST_DATA") or REPO.parent / "shared" / "data")


def shared_data_path(*parts: str) -> Path:
    """A path inside the test data; skips the calling test when it does not exist."""
    path = shared_data_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test data not found at {path} (set NOWCAST_TEST_DATA)")
    return path


# One intra-op thread: the tests check results, not speed, and on a shared 2-core machine a
# second OpenMP thread waiting for a busy core slows small convolutions down a hundredfold.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test-data folder (skips the test when it is absent, e.g. in a fresh clone)."""
    return shared_data_path()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder (for `pipelines/`, `models/`, ...)."""
    return REPO


def _free_port() -> int:
    """An unused TCP port on the loopback interface (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(world: int, *args: str, env: dict[str, str] | None = None) -> None:
    """Run `args` under torchrun with `world` gloo processes on 127.0.0.1 and a free port, one
    OpenMP thread each; fails the test with the end of stderr when it does not exit 0."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        f"--nproc_per_node={world}",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        *args,
    ]
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "GLOO_SOCKET_IFNAME": "lo",
        "PYTHONPATH": path,  # the ranks import test-only helpers (synthetic_squares)
        **(env or {}),
    }
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
