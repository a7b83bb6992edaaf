"""A local or mounted archive: files listed by a glob, valid times parsed from their names.

Entries that match the pattern but are not regular files (folders, dangling links, files that
vanish while listed) are set aside in `ignored` with the reason; they never stop a run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import field_validator

from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources.base import Candidate, Fetched, SourceOptions, SourceUnavailable
from nowcast.ingest.sources.pattern import NamePattern, compile_pattern


class DirectoryOptions(SourceOptions):
    """`path` to walk and the `pattern` of file paths below it (see `sources.pattern`)."""

    path: Path
    pattern: str
    move_rejected: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        """Reject patterns that cannot give a time, when the pipeline is loaded."""
        compile_pattern(value)
        return value


class DirectorySource:
    """Files under one folder; rejected files are copied to quarantine unless `move_rejected`."""

    options_model = DirectoryOptions
    bounded = True

    def __init__(
        self, options: DirectoryOptions, cadence: pd.Timedelta, start: pd.Timestamp | None
    ) -> None:
        self.options = options
        self.pattern: NamePattern = compile_pattern(options.pattern)
        self.start = start
        self.keeps_originals = not options.move_rejected
        self.ignored: list[tuple[Candidate, str]] = []

    def candidates(self, since: pd.Timestamp | None, until: pd.Timestamp) -> list[Candidate]:
        """Files whose name-time lies in [since, until] (and after the pipeline's start)."""
        root = self.options.path
        if not root.is_dir():
            raise SourceUnavailable(f"folder not found or not mounted: {root}")
        bounds = [t for t in (since, self.start) if t is not None]
        lower = max(bounds) if bounds else None
        found = []
        self.ignored = []
        for path in root.glob(self.pattern.glob):
            parsed = self.pattern.match(path.relative_to(root).as_posix())
            if parsed is None:
                continue
            time, group = parsed
            if time > until or (lower is not None and time < lower):
                continue
            try:
                stat = path.stat() if path.is_file() else None
            except OSError:
                stat = None
            if stat is None:
                reason = "not a regular file (a folder, a dangling link or gone): ignored"
                self.ignored.append((Candidate(time, path.name, str(path)), reason))
                continue
            fingerprint = f"{stat.st_size}-{stat.st_mtime_ns}"
            found.append(Candidate(time, path.name, str(path), group, fingerprint))
        return sorted(found, key=lambda c: (c.time, c.group or "", c.name))

    def fetch(self, candidate: Candidate) -> Fetched:
        """The file itself (readers open it in place)."""
        path = Path(candidate.location)
        if not path.is_file():
            raise SourceUnavailable(f"file disappeared: {path}")
        return Fetched(candidate, payload=Payload(path.name, path=path), provenance=str(path))
