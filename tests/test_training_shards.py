"""Training reads only what it needs: each rank its shard, through a bounded chunk cache."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import torchrun

from nowcast.training.cache import BoundedCache
from nowcast.training.synthetic import CADENCE, write_squares_archive
from nowcast.training.windows import TrainingBatches, Window, WindowReader, WindowSpec

SPEC = WindowSpec(4, 4, CADENCE)

WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
    from nowcast.training import Trainer, shutdown_distributed
    from nowcast.training.run import test_scores
    from nowcast.training.synthetic import CADENCE, moving_squares
    from nowcast.training.windows import TrainingBatches, WindowSpec

    class CountingReader:
        '''Serves windows (plain indices) from memory and logs every window it reads.'''

        def __init__(self, data):
            self.data, self.log = data, []

        def batch(self, windows):
            self.log.extend(windows)
            return self.data[list(windows)]

    out, world = sys.argv[1], int(sys.argv[2])
    data = moving_squares(32, 8)(0, torch.Generator().manual_seed(7))
    reader = CountingReader(data)
    torch.manual_seed(0)
    trainer = Trainer(
        build_model(ModelConfig(hidden=8, num_layers=1, patch=2, height=16, width=16)),
        TrainingRecipe(lr=1e-2, batch_size=4, iterations=3, reverse_augment=True),
        out,
        "cpu",
        sequence=SequenceConfig(input_frames=4, output_frames=4),
        progress=False,
    )
    assert trainer.dist.world_size == world
    result = trainer.fit(TrainingBatches(reader, list(range(32)), 4), every=3)
    train_reads = list(reader.log)
    scores = test_scores(trainer.model, reader, list(range(20, 32)), WindowSpec(4, 4, CADENCE),
                         trainer.dist)
    with open(f"{out}/rank{trainer.dist.rank}.json", "w") as handle:
        json.dump({"reads": train_reads, "losses": result.losses, "scores": scores}, handle)
    shutdown_distributed()
    """
)


def _run(script: Path, out: Path, world: int) -> list[dict]:
    """The worker under torchrun with `world` gloo processes on 127.0.0.1; each rank's record."""
    torchrun(world, str(script), str(out), str(world))
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]


@pytest.mark.slow
def test_two_ranks_read_each_window_once_per_step_and_match_one(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    one = _run(script, tmp_path / "one", 1)[0]
    two = _run(script, tmp_path / "two", 2)
    assert len(one["reads"]) == 3 * 4  # 3 steps of a global batch of 4
    for rank, record in enumerate(two):
        assert len(record["reads"]) == 3 * 2  # each rank reads only its 2 windows a step
        steps = [record["reads"][2 * i : 2 * i + 2] for i in range(3)]
        assert steps == [one["reads"][4 * i + 2 * rank : 4 * i + 2 * rank + 2] for i in range(3)]
    assert two[0]["losses"] == pytest.approx(one["losses"], rel=1e-5, abs=1e-6)
    for record in two:
        for method, scores in one["scores"].items():
            for name, values in scores.items():
                assert record["scores"][method][name] == pytest.approx(values, rel=1e-5)


@pytest.mark.parametrize(("crop", "flips"), [(None, False), (8, True)])
def test_shards_together_are_the_global_batch(
    tmp_path: Path, crop: int | None, flips: bool
) -> None:
    """Each rank's windows, cropped and flipped exactly as in the one-process global batch."""
    archive = write_squares_archive(tmp_path / "a.zarr", 120, size=16)
    reader = WindowReader(archive, SPEC)
    starts = archive.windows("squares", SPEC.input_frames * CADENCE, SPEC.output_frames * CADENCE)
    windows = [Window("squares", s) for s in starts]
    batches = TrainingBatches(reader, windows, batch_size=6, crop=crop, flips=flips)
    whole = batches(0, torch.Generator().manual_seed(3))
    parts = [batches.shard(0, torch.Generator().manual_seed(3), rank, 3) for rank in range(3)]
    torch.testing.assert_close(torch.cat(parts), whole)
    assert reader.reads == 6 + 6


def test_window_reader_cache_stays_within_its_bound(tmp_path: Path) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 3000, size=32, append_every=500)
    chunk = archive.time_chunk("squares")
    block_bytes = chunk * 32 * 32 * 4
    limit_mb = 2.5 * block_bytes / 2**20  # room for two stored chunks, not three
    reader = WindowReader(archive, SPEC, cache_mb=limit_mb)
    frames = archive.read("squares")
    rng = np.random.default_rng(0)
    starts = archive.windows("squares", "40min", "40min")
    peak = 0
    for pick in rng.integers(0, len(starts), 60):
        window = reader.read(Window("squares", starts[pick]))
        peak = max(peak, reader.cache.nbytes)
        first = int(np.searchsorted(frames.time.values, starts[pick].to_datetime64()))
        expected = (300.0 - frames.isel(time=slice(first, first + 8)).values) / 130.0
        np.testing.assert_allclose(window[:, 0], expected, atol=1e-6)
    assert 0 < peak <= limit_mb * 2**20
    assert len(reader.cache) <= 2 and reader.cache.misses > 2
    assert pd.Timedelta(frames.time.values[1] - frames.time.values[0]) == CADENCE


def test_the_cache_makes_room_before_it_loads_so_the_incoming_array_fits_too() -> None:
    cache = BoundedCache(limit_bytes=3 * 800)
    for key in range(3):
        cache.get(key, lambda: np.zeros(100))  # 800 bytes each: the cache is full
    held_while_loading: list[int] = []

    def load() -> np.ndarray:
        held_while_loading.append(cache.nbytes)
        return np.ones(100)

    value = cache.get("new", load, expected=800)
    assert held_while_loading == [2 * 800] and value.sum() == 100
    assert cache.nbytes == 3 * 800 and len(cache) == 3
    assert cache.get(1, load).sum() == 0 and cache.hits == 1  # 0 was the one evicted
    huge = cache.get("huge", lambda: np.zeros(1000), expected=8000)  # over the bound: not kept
    assert huge.nbytes == 8000 and len(cache) == 3 and cache.nbytes == 3 * 800
