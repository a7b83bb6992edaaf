"""Backfill decoding on a `dask.distributed` cluster, results handed back in time order.

Workers only fetch, read, check and regrid (`nowcast.ingest.decode`); the one writer, the
archive lock, the ledger and quarantine stay in the calling process, which applies results in
the order of the candidates. A worker that dies loses only tasks that Dask runs again
elsewhere; a run that dies loses only uncommitted batches, which the next run fetches again.

When Dask is used (`nowcast ingest` only; the scheduler's live runs always decode in-process):
a scheduler address (`--scheduler` or `backfill.scheduler`) or `--workers` asks for it; else a
run with more than `backfill.threshold` frames to fetch starts a local cluster.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from nowcast.core import SourceError, free_cpus
from nowcast.ingest.decode import Decoded, Decoder
from nowcast.ingest.pipeline import PipelineConfig
from nowcast.ingest.sources import Candidate

log = logging.getLogger("nowcast.ingest.backfill")

CONNECT_TIMEOUT_S = 10
FRAMES_PER_TASK = 16
IN_FLIGHT_PER_WORKER = 3
MIN_IN_FLIGHT = 4
# Local workers skip the 10 ms stack profiler (decoding tasks are few and long), and keep
# glibc's heap for the multi-MB arrays of each decoded file: the nanny's small trim threshold
# alone turns each into a fresh mmap whose pages fault in again.
LOCAL_WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 64 * 2**20,
}
_decoders: dict[tuple[str, str], Decoder] = {}


def decode_on_worker(config: PipelineConfig, candidates: list[Candidate]) -> list[Decoded]:
    """Decode a few candidates with this worker's cached decoder; ships back no source pixels."""
    key = (config.name, config.fingerprint)
    if key not in _decoders:
        _decoders[key] = Decoder(config)
    return [_light(_decoders[key].decode(candidate)) for candidate in candidates]


def _light(decoded: Decoded) -> Decoded:
    """The outcome with the source frame cut to one pixel: the writer needs only its metadata."""
    if decoded.frame is None:
        return decoded
    corner = {dim: slice(0, 1) for dim in decoded.frame.dims}
    return replace(decoded, frame=decoded.frame.isel(corner))


@dataclass
class Backfill:
    """Where a backfill decodes: a scheduler address, or a local cluster of `workers`."""

    scheduler: str | None = None
    workers: int | None = None
    threshold: int = 256
    _client: Any = field(default=None, init=False, repr=False)
    _cluster: Any = field(default=None, init=False, repr=False)

    def wants(self, count: int) -> bool:
        """Whether `count` frames to fetch go to Dask (asked for, or more than the threshold)."""
        asked = self.scheduler is not None or self.workers is not None
        return count > 0 and (asked or count > self.threshold)

    def client(self) -> Any:
        """The Dask client, connected on first use (a local cluster when no address is set)."""
        if self._client is not None:
            return self._client
        import dask.config
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            workers = self.workers or free_cpus()
            with dask.config.set(LOCAL_WORKER_CONFIG):
                self._cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            address = self._cluster.scheduler_address
        else:
            address = self.scheduler
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise SourceError(
                f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s"
            ) from exc
        log.info("backfill on Dask at %s", address)
        return self._client

    def decode(self, config: PipelineConfig, candidates: list[Candidate]) -> Iterator[Decoded]:
        """Each candidate decoded on the cluster, yielded in the candidates' order.

        Tasks of `FRAMES_PER_TASK` candidates keep the per-task overhead small; at most a few
        tasks per worker are in flight, so memory stays bounded however long the backfill;
        tasks still queued when the caller stops are cancelled.
        """
        client = self.client()
        workers = max(1, sum(client.nthreads().values()))
        window = max(MIN_IN_FLIGHT, IN_FLIGHT_PER_WORKER * workers)
        queue: deque[Any] = deque()
        try:
            for first in range(0, len(candidates), FRAMES_PER_TASK):
                chunk = candidates[first : first + FRAMES_PER_TASK]
                queue.append(client.submit(decode_on_worker, config, chunk, pure=False))
                if len(queue) >= window:
                    yield from queue.popleft().result()
            while queue:
                yield from queue.popleft().result()
        finally:
            if queue:
                client.cancel(list(queue))

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this backfill started one."""
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
