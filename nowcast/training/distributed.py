"""DistributedDataParallel plumbing: process group from torchrun's env vars, batch sharding."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from nowcast.core import ConfigError

# Every tensor this process handed to a collective, until gloo has let go of it. Gloo frees a
# finished operation's tensors on its own worker thread, some time after the caller's wait
# returned (a barrier keeps earlier operations alive until the barrier itself is freed). A
# tensor whose Python object is already gone then needs the GIL there; after the interpreter
# began to exit, taking the GIL ends that C++ thread and the process aborts ("terminate called
# without an active exception"). Holding the Python object keeps that release GIL-free.
_lent: list[Tensor] = []
RETURN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job; world_size 1 means a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True under torchrun with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes checkpoints, logs and progress."""
        return self.rank == 0

    def shard(self, batch: Tensor) -> Tensor:
        """This rank's contiguous slice of a global batch along dim 0."""
        if not self.enabled:
            return batch
        return batch[shard_slice(batch.shape[0], self.rank, self.world_size)]

    def total(self, value: Tensor) -> Tensor:
        """Sum a tensor over all ranks (identity for one process)."""
        if not self.enabled:
            return value
        value = _lend(value.clone())
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def mean(self, value: Tensor) -> Tensor:
        """Average a tensor over all ranks (identity for one process)."""
        if not self.enabled:
            return value
        value = _lend(value.clone())
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value / self.world_size

    def barrier(self) -> None:
        """Wait until every rank gets here (no-op for one process)."""
        if self.enabled:
            dist.barrier()

    def broadcast(self, value: Tensor) -> Tensor:
        """Rank 0's value of a tensor, on every rank."""
        if not self.enabled:
            return value
        value = _lend(value.clone())
        dist.broadcast(value, src=0)
        return value


def _held_by_gloo(tensor: Tensor) -> bool:
    """True while a collective's record still references `tensor` (we hold one reference)."""
    return tensor._use_count() > 1


def _lend(tensor: Tensor) -> Tensor:
    """Keep `tensor` alive for as long as gloo may hold it; forget those it has let go of."""
    _lent[:] = [held for held in _lent if _held_by_gloo(held)]
    _lent.append(tensor)
    return tensor


def _wait_for_lent_tensors(timeout_s: float = RETURN_TIMEOUT_S) -> None:
    """Block until gloo's worker threads have freed every operation on a lent tensor, so none
    is left for them to free once the interpreter exits; then let the tensors go."""
    deadline = time.monotonic() + timeout_s
    while any(_held_by_gloo(held) for held in _lent) and time.monotonic() < deadline:
        time.sleep(0.001)
    _lent.clear()


def shard_slice(size: int, rank: int, world_size: int) -> slice:
    """Rank `rank`'s contiguous part of `size` items split evenly over `world_size` ranks."""
    if size % world_size:
        raise ConfigError(f"global batch {size} is not divisible by the {world_size} processes")
    step = size // world_size
    return slice(rank * step, (rank + 1) * step)


def init_distributed(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun describes (WORLD_SIZE > 1) and pick this rank's device.

    Uses NCCL on CUDA and gloo on CPU; the device becomes cuda:LOCAL_RANK on GPUs.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(), device
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank), device


def shutdown_distributed() -> None:
    """Leave the process group if one is active, after every rank got here (a rank that
    tears down its connections while another still talks to it aborts that one), and once
    gloo has freed every tensor this process lent it (see `_lent`)."""
    if dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()
    _wait_for_lent_tensors()
