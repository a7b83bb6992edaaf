"""The one atomic write: a failed write leaves the old version; concurrent writers never collide."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowcast.core.files import atomic_path, temporary_sibling, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "card.md", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md"]


def test_a_folder_replaces_a_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "best"
    for version in ("1", "2"):
        with atomic_path(target) as staging:
            staging.mkdir()
            (staging / "weights").write_text(version)
    assert (target / "weights").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path: Path) -> None:
    names = {temporary_sibling(tmp_path / "map.png") for _ in range(100)}
    assert len(names) == 100
    assert all(name.suffix == ".png" and name.name.startswith(".map.") for name in names)


def test_a_folder_is_swapped_in_one_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No moment without the folder: the new version is exchanged with the old in one rename."""
    import os

    store = tmp_path / "store"
    with atomic_path(store) as tmp:
        tmp.mkdir()
        (tmp / "chunk").write_text("v1")

    def no_second_rename(source: object, target: object) -> None:
        raise AssertionError(f"folder replaced in two steps: {source} -> {target}")

    monkeypatch.setattr(os, "replace", no_second_rename)
    with atomic_path(store) as tmp:
        tmp.mkdir()
        (tmp / "chunk").write_text("v2")
    assert (store / "chunk").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_a_writer_killed_after_the_swap_leaves_the_new_folder(tmp_path: Path) -> None:
    """SIGKILL right after the exchange: the folder holds the whole new version; the hidden
    old one is removed by the next write."""
    import signal
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from nowcast.core import files
        store = Path({str(tmp_path / "store")!r})
        for version in ("v1", "v2"):
            if version == "v2":
                files._remove = lambda path: os.kill(os.getpid(), signal.SIGKILL)
            with files.atomic_path(store) as tmp:
                tmp.mkdir()
                (tmp / "chunk").write_text(version)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -signal.SIGKILL
    store = tmp_path / "store"
    assert (store / "chunk").read_text() == "v2"
    (left,) = [p for p in tmp_path.iterdir() if p.name != "store"]
    assert left.name.startswith(".store.") and (left / "chunk").read_text() == "v1"
    write_text_atomic(tmp_path / "next.txt", "the next write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next.txt", "store"]
