"""`nowcast pipeline check`: what a run would take from a directory source, and what not.

Lists the files the pattern matches and those it leaves, warns when left files look like the
matched ones (a pattern that takes part of a series), finds gaps and duplicate times, and reads
every matched file as a run would (reader, then the frame checks) to say which it would reject
and why. Nothing is written.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nowcast.core import ConfigError
from nowcast.ingest.checks import frame_problem
from nowcast.ingest.draft import list_files
from nowcast.ingest.name_times import shape_of
from nowcast.ingest.pipeline import PipelineConfig, make_reader, source_options
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources.pattern import compile_pattern

SAMPLE_TIME = pd.Timestamp("2001-02-03T04:05:06")


@dataclass
class CheckReport:
    """Matched and unmatched files, look-alikes left out, time gaps and duplicates, rejects."""

    folder: Path
    pattern: str
    matched: dict[str, pd.Timestamp] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    look_alike: list[str] = field(default_factory=list)
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)
    duplicates: dict[pd.Timestamp, list[str]] = field(default_factory=dict)
    off_cadence: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether a run would take every file of the series and reject none."""
        return bool(self.matched) and not (
            self.look_alike or self.rejected or self.duplicates or self.off_cadence
        )


def example_name(pattern: str) -> str:
    """The pattern written out for one time (`?` as a letter, `*` and `{group}` as `x`)."""
    text = SAMPLE_TIME.strftime(pattern.replace("{group}", "x").replace("*", "x"))
    return text.replace("?", "x")


def check_pipeline(
    config: PipelineConfig, progress: Callable[[int, int], None] | None = None
) -> CheckReport:
    """Check a directory source's files against the pipeline, reading each matched file."""
    if config.source.kind != "directory":
        raise ConfigError(
            f"pipeline check reads a folder; {config.name} has a {config.source.kind} source"
        )
    options = source_options(config, config.name)
    folder = Path(options.path)
    names = list_files(folder)
    pattern = compile_pattern(options.pattern)
    report = CheckReport(folder, options.pattern)
    for name in names:
        parsed = pattern.match(name)
        if parsed is None:
            report.unmatched.append(name)
        else:
            report.matched[name] = parsed[0]
    wanted = {shape_of(name) for name in report.matched} or {shape_of(example_name(pattern.text))}
    report.look_alike = [name for name in report.unmatched if shape_of(name) in wanted]
    _times(report, config.cadence)
    _reads(report, config, progress)
    return report


def _times(report: CheckReport, cadence: pd.Timedelta) -> None:
    """Gaps longer than the cadence, times two files share, and times off the cadence."""
    by_time: dict[pd.Timestamp, list[str]] = {}
    for name, time in report.matched.items():
        by_time.setdefault(time, []).append(name)
    report.duplicates = {t: sorted(n) for t, n in by_time.items() if len(n) > 1}
    ordered = sorted(by_time)
    report.gaps = [(a, b) for a, b in itertools.pairwise(ordered) if b - a > cadence]
    report.off_cadence = sorted(
        name for name, time in report.matched.items() if (time - pd.Timestamp(0)) % cadence
    )


def _reads(
    report: CheckReport, config: PipelineConfig, progress: Callable[[int, int], None] | None
) -> None:
    """Read each matched file with the pipeline's reader and checks; note why any fails."""
    reader = make_reader(config)
    if reader is None:
        return
    read, options = reader
    ordered = sorted(report.matched, key=report.matched.__getitem__)
    for index, name in enumerate(ordered):
        path = report.folder / name
        try:
            frame = read.read(Payload(path.name, path=path), options)
        except Exception as exc:  # noqa: BLE001 - any failure is a reason a run would reject
            report.rejected[name] = f"unreadable: {type(exc).__name__}: {exc}"
        else:
            problem = frame_problem(frame, report.matched[name], config.checks)
            if problem is not None:
                report.rejected[name] = problem
        if progress:
            progress(index + 1, len(ordered))


def reasons(report: CheckReport) -> Counter[str]:
    """How many files each rejection reason covers (reasons cut at their first colon)."""
    return Counter(reason.split(":")[0] for reason in report.rejected.values())
