"""Himawari-8/9 AHI full-disk segments from NOAA's public bucket, over anonymous HTTPS.

Each 10-minute full disk of a band is published as 10 compressed HSD segments, north to south:
`AHI-L1b-FLDK/YYYY/MM/DD/HHMM/HS_H09_YYYYMMDD_HHMM_B13_FLDK_R20_S{seg}10.DAT.bz2`. This source
downloads only the segments that cover the pipeline's lon/lat box, through the `http` source's
session (retries, size cap, 404 = not published yet), and hands them to the `ahi_hsd` reader
as one tar payload. Himawari-8 (`H08`, bucket `noaa-himawari8`) served until `h09_from`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
import pyproj
from pydantic import Field, model_validator

from nowcast.core import ConfigError, utc
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.readers.bundle import BUNDLE_SUFFIX, pack
from nowcast.ingest.sources.base import BadInput, Candidate, Fetched
from nowcast.ingest.sources.http import HttpOptions, HttpSource
from nowcast.store import bbox_outline

DEFAULT_URL = (
    "https://noaa-himawari{number}.s3.amazonaws.com/AHI-L1b-FLDK/{time:%Y/%m/%d/%H%M}/"
    "HS_{satellite}_{time:%Y%m%d_%H%M}_B{band:02d}_FLDK_R{resolution}_S{segment:02d}10.DAT.bz2"
)
SEGMENTS = 10
SUB_LON, HEIGHT_M = 140.7, 35_785_863.0
DISK_DEG = 5500 * 2.0**16 / 20_466_275  # scan-angle height of the full disk (2 km lines x LFAC)
RESOLUTION_CODE = {1: "10", 2: "10", 3: "05", 4: "10"}  # every other band: R20 (2 km)
GEOS = pyproj.CRS.from_proj4(
    f"+proj=geos +lon_0={SUB_LON} +h={HEIGHT_M} +a=6378137 +b=6356752.3 +units=m +no_defs"
)


@dataclass(frozen=True)
class SegmentSet:
    """Several segments in one URL, shell-brace style (`S{03,04,05}10`), for listings."""

    segments: range

    def __format__(self, spec: str) -> str:
        """Each segment formatted with the template's spec, inside braces."""
        return "{" + ",".join(format(segment, spec) for segment in self.segments) + "}"


class HimawariOptions(HttpOptions):
    """The bucket URL template, band, lon/lat box (default: `grid.bbox`) and satellite switch."""

    url: str = DEFAULT_URL
    band: int = Field(13, ge=1, le=16)
    bbox: tuple[float, float, float, float] = Field(
        description="lon_min, lat_min, lon_max, lat_max: download the segments that cover it"
    )
    satellite: Literal["auto", "H08", "H09"] = "auto"
    h09_from: datetime = Field(
        datetime.fromisoformat("2022-12-13T05:00:00+00:00"),
        description="first valid time served by Himawari-9 (JMA switched at 05 UTC)",
    )
    max_bytes: int = Field(50_000_000, gt=0, description="per compressed segment")

    @model_validator(mode="after")
    def _box(self) -> HimawariOptions:
        """Reject empty or upside-down boxes when the pipeline is loaded."""
        lon0, lat0, lon1, lat1 = self.bbox
        if not (lon0 < lon1 and -90 <= lat0 < lat1 <= 90):
            raise ValueError(f"bbox {self.bbox} is not (lon_min, lat_min, lon_max, lat_max)")
        return self


def covering_segments(bbox: tuple[float, float, float, float]) -> range:
    """The full-disk segments (1 = northernmost) whose lines cover a lon/lat box."""
    lons, lats = bbox_outline(bbox, 97)
    to_geos = pyproj.Transformer.from_crs("EPSG:4326", GEOS, always_xy=True)
    _, y = to_geos.transform(lons, lats, errcheck=False)
    y = np.asarray(y)
    y = y[np.isfinite(y) & (np.abs(y) < HEIGHT_M)]
    if y.size == 0:
        raise ConfigError(f"bbox {bbox} is not visible from Himawari (sub-satellite {SUB_LON}E)")
    fraction = (DISK_DEG / 2 - np.degrees(y / HEIGHT_M)) / DISK_DEG
    segments = np.clip(np.floor(fraction * SEGMENTS), 0, SEGMENTS - 1).astype(int) + 1
    return range(int(segments.min()), int(segments.max()) + 1)


class HimawariSource(HttpSource):
    """One full disk per cadence step; only the segments covering the box are fetched."""

    options_model = HimawariOptions

    def __init__(
        self, options: HimawariOptions, cadence: pd.Timedelta, start: pd.Timestamp | None
    ) -> None:
        super().__init__(options, cadence, start)
        self.options: HimawariOptions = options
        self.segments = covering_segments(options.bbox)

    def satellite(self, time: pd.Timestamp) -> str:
        """`H08` or `H09`: the satellite that served full disks at a valid time."""
        if self.options.satellite != "auto":
            return self.options.satellite
        return "H09" if time >= utc(self.options.h09_from) else "H08"

    def segment_url(self, time: pd.Timestamp, segment: int | SegmentSet) -> str:
        """The URL of one compressed segment of the full disk at a valid time."""
        satellite = self.satellite(time)
        band = self.options.band
        return self.options.url.format(
            time=time.to_pydatetime(),
            satellite=satellite,
            number=int(satellite[1:]),
            band=band,
            resolution=RESOLUTION_CODE.get(band, "20"),
            segment=segment,
        )

    def frame_name(self, time: pd.Timestamp) -> str:
        """The payload's name: the full disk's band, time and segment range, as a tar."""
        first, last = self.segments[0], self.segments[-1]
        band = self.options.band
        return (
            f"HS_{self.satellite(time)}_{time:%Y%m%d_%H%M}_B{band:02d}_FLDK"
            f"_S{first:02d}-S{last:02d}{BUNDLE_SUFFIX}"
        )

    def candidates(self, since: pd.Timestamp | None, until: pd.Timestamp) -> list[Candidate]:
        """One full disk per cadence step in [since, until] (never before the pipeline's start)."""
        bounds = [t for t in (since, self.start) if t is not None]
        first = max(bounds) if bounds else until
        times = pd.date_range(
            first.ceil(self.cadence), until.floor(self.cadence), freq=self.cadence
        )
        listed = SegmentSet(self.segments)
        return [
            Candidate(when, self.frame_name(when), self.redact(self.segment_url(when, listed)))
            for when in times
        ]

    def fetch(self, candidate: Candidate) -> Fetched:
        """Download the covering segments (all must be published) into one tar payload."""
        parts: dict[str, bytes] = {}
        tags = []
        for segment in self.segments:
            url = self.segment_url(candidate.time, segment)
            body, headers, _ = self.get(url)
            try:
                self._check_sum(url, body)
            except BadInput as exc:
                raise BadInput(str(exc), Payload(url.rsplit("/", 1)[-1], data=body)) from None
            parts[url.rsplit("/", 1)[-1]] = body
            if headers.get("ETag"):
                tags.append(headers["ETag"])
        payload = Payload(candidate.name, data=pack(parts))
        provenance = candidate.location + (f" (ETags {' '.join(tags)})" if tags else "")
        return Fetched(candidate, payload=payload, provenance=provenance)
