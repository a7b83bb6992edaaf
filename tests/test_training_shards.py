"""Training reads only what it needs: each rank its shard, through a bounded chunk cache."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
import zarr
from conftest import torchrun
from synthetic_squares import CADENCE, write_squares_archive

from nowcast.core.errors import ConfigError
from nowcast.models import ModelConfig, build_model
from nowcast.store.archive import Archive
from nowcast.store.transform import Transform, from_attrs
from nowcast.store.zarr_threads import ZARR3, read_threads
from nowcast.training import run as training_run
from nowcast.training.cache import BoundedCache
from nowcast.training.loader import LoaderBatches
from nowcast.training.windows import (
    READ_PATH_CODE_BYTES,
    TrainingBatches,
    Window,
    WindowReader,
    WindowSpec,
    find_windows,
)

SPEC = WindowSpec(4, 4, CADENCE)

WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
    from nowcast.training import Trainer, shutdown_distributed
    from nowcast.training.run import test_scores
    from synthetic_squares import CADENCE, moving_squares
    from nowcast.training.window_index import WindowIndex
    from nowcast.training.windows import TrainingBatches, WindowSpec

    class CountingReader:
        '''Serves windows (their start is a row of `data`) from memory and logs every
        window it reads.'''

        def __init__(self, data):
            self.data, self.log = data, []

        def reserve_batches(self, batch_size, groups):
            pass

        def batch(self, windows):
            rows = [window.start.value for window in windows]
            self.log.extend(rows)
            return self.data[rows]

        def batches(self, windows):
            for start in range(0, len(windows), 16):
                yield self.batch(windows[start : start + 16])

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
    windows = WindowIndex.of_group("squares", np.arange(32))
    result = trainer.fit(TrainingBatches(reader, windows, 4), every=3)
    train_reads = list(reader.log)
    scores = test_scores(trainer.model, reader, windows[20:], WindowSpec(4, 4, CADENCE),
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


def _random_groups(path: Path, lengths: dict[str, int], size: int = 16) -> Archive:
    """Groups of random brightness temperatures (a different field in every group and frame),
    the later half of each appended before the earlier, so reads follow the stored order."""
    archive = Archive(path)
    rng = np.random.default_rng(5)
    transform = Transform(kind="linear", vmin=170, vmax=300, invert=True)
    for group, length in lengths.items():
        times = pd.date_range("2024-01-01", periods=length, freq=CADENCE)
        values = rng.uniform(160.0, 310.0, (length, size, size)).astype(np.float32)
        series = xr.DataArray(
            values,
            dims=("time", "y", "x"),
            coords={"time": times, "y": np.arange(size) * 1e3, "x": np.arange(size) * 1e3},
            attrs={"units": "K", **transform.to_attrs()},
            name="bt",
        )
        half = length // 2
        archive.append(group, series.isel(time=slice(half, None)), {"cadence_s": 600.0})
        archive.append(group, series.isel(time=slice(None, half)))
    return archive


def test_a_batch_written_in_place_equals_its_windows_stacked(tmp_path: Path) -> None:
    """Windows of three groups in one preallocated batch: the same values as stacking each
    window's frames read through xarray, then stacking the windows (the former assembly)."""
    archive = _random_groups(tmp_path / "a.zarr", {"a": 700, "b": 300, "c": 90})
    windows = find_windows(archive, ["a", "b", "c"], SPEC)
    picks = np.array([0, 650, 400, 700, 720, 990, len(windows) - 1, 3])
    chosen = windows.take(picks)
    expected = []
    for window in chosen:
        series = archive.read(window.group)
        transform = from_attrs(series.attrs)
        times = pd.date_range(window.start, periods=8, freq=CADENCE)
        frames = [transform.to_model(series.sel(time=t).values) for t in times]
        expected.append(np.stack(frames)[:, None])
    reader = WindowReader(archive, SPEC, cache_mb=0.7)
    batch = reader.batch(chosen)
    assert sorted({w.group for w in chosen}) == ["a", "b", "c"]
    assert batch.shape == (8, 8, 1, 16, 16) and batch.is_contiguous()
    np.testing.assert_array_equal(batch.numpy(), np.stack(expected))
    np.testing.assert_array_equal(reader.batch(list(chosen)).numpy(), batch.numpy())
    np.testing.assert_array_equal(reader.read(chosen[2]), expected[2])
    assert reader.reads == 8 + 8 + 1


def test_the_cache_gets_the_bound_less_the_batch_and_the_read_path(tmp_path: Path) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 2000, size=16)
    block_bytes = archive.time_chunk("squares") * 16 * 16 * 4
    batch_bytes = 6 * 8 * 16 * 16 * 4
    bound = 4 * 2**20
    reader = WindowReader(archive, SPEC, cache_mb=4.0)
    windows = find_windows(archive, ["squares"], SPEC)
    reader.batch(windows[:: len(windows) // 15])  # fills the cache before its size is known
    threads = read_threads()
    assert reader.cache.nbytes == 2000 * 16 * 16 * 4  # the whole group, under the bound alone
    reading = (1 + 2 * threads) * block_bytes + 2000 * 8 + READ_PATH_CODE_BYTES
    room = bound - batch_bytes - reading
    batches = TrainingBatches(reader, windows, batch_size=6)
    assert reader.cache.limit_bytes == room and reader.cache.nbytes <= room
    generator = torch.Generator().manual_seed(0)
    for iteration in range(20):
        assert batches(iteration, generator).numpy().nbytes == batch_bytes
        assert reader.cache.nbytes + batch_bytes + reading <= bound
    loaded = LoaderBatches(batches, workers=1)
    assert loaded.dataset.reader().cache.limit_bytes == reader.cache.limit_bytes


def test_zarr_reads_for_the_window_reader_in_one_thread_unless_the_site_chose(
    tmp_path: Path,
) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 300, size=16)
    if not ZARR3:  # zarr-python 2 reads in the caller's thread
        WindowReader(archive, SPEC)
        assert read_threads() == 1
        return
    with zarr.config.set({"threading.max_workers": None}):
        assert read_threads() >= 5  # asyncio's default pool: cores + 4
        WindowReader(archive, SPEC)
        assert zarr.config.get("threading.max_workers") == 1 and read_threads() == 1
    with zarr.config.set({"threading.max_workers": 6}):
        WindowReader(archive, SPEC)
        assert read_threads() == 6


def test_a_bound_without_room_for_the_batch_the_read_path_and_a_block_is_refused(
    tmp_path: Path,
) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 600, size=16)
    windows = find_windows(archive, ["squares"], SPEC)
    # batch 8 x 8 x 16 x 16 x 4 = 0.0625 MB; three 0.25 MB read buffers, 600 x 8 bytes of frame
    # times and 2.5 MB of code; a 0.25 MB cached block: 3.567 MB
    with pytest.raises(ConfigError, match=r"cache_mb = 3.5 is too small.* need 3.6 MB"):
        TrainingBatches(WindowReader(archive, SPEC, cache_mb=3.5), windows, 8)
    TrainingBatches(WindowReader(archive, SPEC, cache_mb=3.6), windows, 8)


def test_validation_and_test_windows_are_read_in_runs_of_the_training_batch(
    tmp_path: Path,
) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 900, size=16)
    windows = find_windows(archive, ["squares"], SPEC)
    reader = WindowReader(archive, SPEC, cache_mb=4.0)
    TrainingBatches(reader, windows, batch_size=6)
    read_sizes: list[int] = []
    read_batch = reader.batch
    reader.batch = lambda chosen: read_sizes.append(len(chosen)) or read_batch(chosen)
    model = build_model(ModelConfig(hidden=4, num_layers=1, patch=4, height=16, width=16)).eval()
    validate = training_run.validation_loss(reader, windows, SPEC)
    with torch.no_grad():
        first, second = validate(model), validate(model)
        every = len(windows) // training_run.EVAL_WINDOWS
        chosen = windows[::every][: training_run.EVAL_WINDOWS]
        whole = read_batch(chosen)  # the reference: every validation window in one batch
        predicted = model.predict(torch.nan_to_num(whole[:, :4]), 4)
    assert read_sizes == 2 * ([6] * 10 + [4])  # read again on each call, nothing kept
    truth = whole[:, 4:]
    valid = torch.isfinite(truth)
    expected = float(((predicted - truth)[valid].double() ** 2).mean())
    assert first == second == pytest.approx(expected, rel=1e-6)
    read_sizes.clear()
    scores = training_run.test_scores(model, reader, windows[:40], SPEC)
    assert read_sizes == [6] * 6 + [4] and len(scores["model"]["mse"]) == 4


def test_a_rain_rate_gain_on_values_that_are_not_rain_is_refused(tmp_path: Path) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 120, size=16)
    windows = find_windows(archive, ["squares"], SPEC)
    with pytest.raises(ConfigError, match="rain-rate gain needs rain"):
        TrainingBatches(WindowReader(archive, SPEC), windows, 4, gain=(0.5, 2.0))
