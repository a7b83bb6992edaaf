"""Time helpers for data code: UTC as tz-naive pandas Timestamps, durations like `8h`."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pandas as pd

from nowcast.core.errors import ConfigError

_DURATION = re.compile(r"^(\d+(\.\d+)?\s*[a-z]+\s*)+$|^p", re.IGNORECASE)
_DAYS = re.compile(r"(?<=\d)\s*d(?=\s*(\d|$))", re.IGNORECASE)


def utc(value: datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A tz-naive Timestamp meaning UTC, from an aware or naive (taken as UTC) value."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.as_unit("ns")


def now_utc() -> pd.Timestamp:
    """The current wall-clock time as a tz-naive UTC Timestamp."""
    return utc(pd.Timestamp.now(tz="UTC"))


def last_complete_day() -> date:
    """Yesterday in UTC: the last day whose forecasts and observations are all in."""
    return (now_utc() - pd.Timedelta(days=1)).date()


def parse_duration(value: str | int | float | timedelta | pd.Timedelta) -> pd.Timedelta:
    """A positive duration from `10min`, `8h`, `1h30min`, `PT8H` or a number of seconds."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            duration = pd.Timedelta(seconds=value)
        elif isinstance(value, str):
            if not _DURATION.match(value.strip()):
                raise ValueError(value)
            duration = pd.Timedelta(_DAYS.sub("D", value.strip()))
        else:
            duration = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ConfigError(f"not a duration: {value!r} (use e.g. 10min, 8h, 2d)") from None
    if duration <= pd.Timedelta(0):
        raise ConfigError(f"duration must be positive, got {value!r}")
    return duration


def parse_when(text: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """A UTC time from an ISO 8601 string, or from a duration meaning that long before `now`."""
    if _DURATION.match(text.strip()):
        return (now if now is not None else now_utc()) - parse_duration(text)
    try:
        return utc(text)
    except ValueError:
        raise ConfigError(f"not a time: {text!r} (use ISO 8601 or a duration such as 8h)") from None


def floor_time(time: pd.Timestamp, cadence: pd.Timedelta) -> pd.Timestamp:
    """`time` rounded down to a multiple of `cadence` since 1970 (a source's publishing grid)."""
    return time.floor(cadence)


ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def iso(time: pd.Timestamp | datetime) -> str:
    """ISO 8601 UTC with a trailing Z, as used in logs, ledgers, heartbeats and file names."""
    return utc(time).strftime(ISO_SECONDS)


def parse_iso(text: str | None) -> pd.Timestamp | None:
    """A time written by `iso` back as a naive UTC Timestamp; None when empty or not one."""
    try:
        return utc(datetime.strptime(text or "", ISO_SECONDS))
    except ValueError:
        return None


def iso_minutes(time: pd.Timestamp | datetime) -> str:
    """ISO 8601 UTC to the minute, e.g. `2020-10-31T10:00Z`, as figures and pages show it."""
    return utc(time).strftime("%Y-%m-%dT%H:%MZ")


def short_duration(value: timedelta | pd.Timedelta) -> str:
    """A duration as people write it and `parse_duration` reads it: `1h`, `10min`, `1h30min`."""
    minutes = int(pd.Timedelta(value) / pd.Timedelta("1min"))
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours}h"] if hours else []) + ([f"{rest}min"] if rest or not hours else [])
    return "".join(parts)


def whole_steps(span: timedelta | pd.Timedelta, step: timedelta | pd.Timedelta) -> int | None:
    """How many `step`s fill `span` exactly (at least one), or None when they do not."""
    count = pd.Timedelta(span) / pd.Timedelta(step)
    return int(count) if count >= 1 and count == int(count) else None
