"""Which archive groups a pipeline writes: the pipeline, or one per storm it follows."""

from __future__ import annotations

from nowcast.store import Archive


def group_name(pipeline: str, sequence: str | None) -> str:
    """The archive group of a frame: the pipeline, or `<pipeline>/<storm id>`."""
    return f"{pipeline}/{sequence}" if sequence else pipeline


def pipeline_groups(archive: Archive, pipeline: str) -> list[str]:
    """The archive groups that belong to a pipeline."""
    return [g for g in archive.groups() if g == pipeline or g.startswith(f"{pipeline}/")]
