"""Training windows read in DataLoader workers: the same batches as in-process, clean exits."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
import torch
from conftest import TESTS
from synthetic_squares import CADENCE, write_squares_archive

from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
from nowcast.store.archive import Archive
from nowcast.training import Trainer
from nowcast.training.loader import LoaderBatches
from nowcast.training.windows import TrainingBatches, WindowReader, WindowSpec, find_windows

SPEC = WindowSpec(4, 4, CADENCE)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """A 600-frame 16x16 squares archive."""
    return write_squares_archive(tmp_path_factory.mktemp("loader") / "a.zarr", 600, size=16)


def _batches(archive: Archive, **options: object) -> TrainingBatches:
    """In-process training batches of 4 windows through a small cache."""
    reader = WindowReader(archive, SPEC, cache_mb=4.0)
    return TrainingBatches(reader, find_windows(archive, ["squares"], SPEC), 4, **options)


def _children() -> set[int]:
    """Live (not zombie) child processes of this process."""
    return {
        child.pid
        for child in psutil.Process().children(recursive=True)
        if child.status() != psutil.STATUS_ZOMBIE
    }


@pytest.mark.parametrize(("rank", "world"), [(0, 1), (1, 2)])
def test_workers_give_the_in_process_batches(archive: Archive, rank: int, world: int) -> None:
    """Same seed, same shards, crops and flips; a restart from a later state (a resume) too."""
    before = _children()
    alone = _batches(archive, crop=8, flips=True)
    loaded = LoaderBatches(_batches(archive, crop=8, flips=True), workers=2)
    mine, theirs = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    try:
        for iteration in range(5):
            expected = alone.shard(iteration, mine, rank, world)
            torch.testing.assert_close(loaded.shard(iteration, theirs, rank, world), expected)
            assert torch.equal(mine.get_state(), theirs.get_state())
        resumed = torch.Generator()
        resumed.set_state(mine.get_state())
        expected = alone.shard(9, mine, rank, world)
        torch.testing.assert_close(loaded.shard(9, resumed, rank, world), expected)
    finally:
        loaded.close()
    assert loaded.batches.reader.reads == 0  # the workers read, through their own readers
    assert loaded.dataset._reader is None
    assert _children() <= before


def test_trained_weights_match_with_and_without_workers(archive: Archive, tmp_path: Path) -> None:
    weights = []
    for workers in (0, 2):
        torch.manual_seed(0)
        trainer = Trainer(
            build_model(ModelConfig(hidden=8, num_layers=1, patch=2, height=16, width=16)),
            TrainingRecipe(lr=1e-2, batch_size=4, iterations=4),
            tmp_path / f"w{workers}",
            "cpu",
            sequence=SequenceConfig(input_frames=4, output_frames=4),
            progress=False,
        )
        batches = _batches(archive)
        source = LoaderBatches(batches, workers) if workers else batches
        try:
            trainer.fit(source, every=4)
        finally:
            if isinstance(source, LoaderBatches):
                source.close()
        weights.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
    for name, value in weights[0].items():
        assert torch.equal(weights[1][name], value), name


def test_dataset_pickles_without_an_open_store(archive: Archive) -> None:
    loaded = LoaderBatches(_batches(archive), workers=1)
    loaded.dataset.reader()
    copy = pickle.loads(pickle.dumps(loaded.dataset))
    assert copy._reader is None and copy.archive.path == archive.path


EXITS = textwrap.dedent(
    """
    import json, sys
    import psutil, torch
    from nowcast.store.archive import Archive
    from nowcast.training.loader import LoaderBatches
    from nowcast.training.windows import TrainingBatches, WindowReader, WindowSpec, find_windows
    from synthetic_squares import CADENCE

    spec = WindowSpec(4, 4, CADENCE)
    archive = Archive(sys.argv[1])
    reader = WindowReader(archive, spec, 4.0)
    batches = TrainingBatches(reader, find_windows(archive, ["squares"], spec), 4)
    loaded = LoaderBatches(batches, workers=2)
    generator = torch.Generator().manual_seed(0)
    for iteration in range(3):
        loaded(iteration, generator)
    print(json.dumps([c.pid for c in psutil.Process().children(recursive=True)]))
    """
)


def test_workers_end_with_the_process_without_close(archive: Archive, tmp_path: Path) -> None:
    script = tmp_path / "exits.py"
    script.write_text(EXITS)
    done = subprocess.run(
        [sys.executable, str(script), str(archive.path)],
        env={**os.environ, "PYTHONPATH": str(TESTS)},  # synthetic_squares
        capture_output=True,
        text=True,
        timeout=240,  # a hang on exit fails here
    )
    assert done.returncode == 0, done.stderr[-3000:]
    workers = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(workers) == 2
    for pid in workers:
        try:
            assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            pass
