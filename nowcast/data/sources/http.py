"""Frames published over HTTP(S) at a URL template, one per cadence step.

`url = "https://host/path/{time:%Y/%m/%d}/{time:%Y%m%d%H%M}.nc"`. A requests session retries
connection errors, read timeouts and 5xx answers with exponential backoff (urllib3 Retry, the
one retry layer: `retries = N` means at most N + 1 requests per file in one run);
404 means "not published yet"; bodies are capped at `max_bytes` and checked against a
checksum file when `checksum_url` is set. Credentials come only from environment variables
named in the pipeline and are never logged: provenance and errors show redacted URLs.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import requests
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nowcast.core.errors import ConfigError
from nowcast.data.readers.base import Payload
from nowcast.data.sources.base import (
    BadInput,
    Candidate,
    Fetched,
    NotPublished,
    SourceOptions,
    SourceUnavailable,
)

RETRY_STATUS = (500, 502, 503, 504)
SENSITIVE_QUERY = re.compile(r"(?i)(key|token|secret|password|passwd|signature|sig|auth)")
SECRET_VALUE = re.compile(
    r"(?i)(\w*(?:key|token|secret|password|passwd|signature|sig|auth)\w*)=[^&\s'\"]+"
)


class HttpOptions(SourceOptions):
    """URL template, timeouts, retries, size cap, checksum and credential variable names."""

    url: str
    connect_timeout_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(30.0, gt=0, description="read timeout per request")
    retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)
    max_bytes: int = Field(200_000_000, gt=0)
    checksum_url: str | None = Field(None, description="template; {url} is the frame's URL")
    checksum: Literal["sha256", "md5", "sha1"] = "sha256"
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None


def redact(url: str) -> str:
    """The URL without user:password and with secret-looking query values masked."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = "&".join(
        f"{k}=***" if SENSITIVE_QUERY.search(k) else f"{k}={v}"
        for k, _, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _env(name: str) -> str:
    """The value of a credential variable; ConfigError (naming only the variable) when unset."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} (named in the pipeline) is not set")
    return value


def make_session(options: HttpOptions) -> requests.Session:
    """A session that retries connection errors, read timeouts and 5xx with backoff."""
    retry = Retry(
        total=options.retries,
        connect=options.retries,
        read=options.retries,
        status=options.retries,
        backoff_factor=options.backoff_s,
        status_forcelist=RETRY_STATUS,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if options.username_env:
        password = _env(options.password_env) if options.password_env else ""
        session.auth = (_env(options.username_env), password)
    if options.token_env:
        session.headers["Authorization"] = f"Bearer {_env(options.token_env)}"
    return session


class HttpSource:
    """One URL per cadence step; the body is read into memory (up to `max_bytes`)."""

    options_model = HttpOptions
    keeps_originals = False
    bounded = False

    def __init__(self, options: HttpOptions, cadence: pd.Timedelta, start: pd.Timestamp | None):
        self.options = options
        self.cadence = cadence
        self.start = start
        self.session = make_session(options)

    def url(self, time: pd.Timestamp) -> str:
        """The frame URL for a valid time."""
        return self.options.url.format(time=time.to_pydatetime())

    def candidates(self, since: pd.Timestamp | None, until: pd.Timestamp) -> list[Candidate]:
        """One candidate per cadence step in [since, until]."""
        bounds = [t for t in (since, self.start) if t is not None]
        first = max(bounds) if bounds else until
        times = pd.date_range(
            first.ceil(self.cadence), until.floor(self.cadence), freq=self.cadence
        )
        found = []
        for when in times:
            url = self.url(when)
            name = PurePosixPath(urlsplit(url).path).name or f"{when:%Y%m%dT%H%M%S}"
            found.append(Candidate(when, name, redact(url)))
        return found

    def _get(self, url: str) -> tuple[bytes, requests.structures.CaseInsensitiveDict]:
        """GET a body with the size cap; the session's Retry is the only retry layer.

        A body cut short fails this fetch (the next ingest run tries the frame again).
        """
        timeout = (self.options.connect_timeout_s, self.options.timeout_s)
        try:
            with self.session.get(url, timeout=timeout, stream=True) as response:
                if response.status_code == 404:
                    raise NotPublished(f"{redact(url)}: 404 not published yet")
                if response.status_code >= 400:
                    raise SourceUnavailable(f"{redact(url)}: HTTP {response.status_code}")
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > self.options.max_bytes:
                    raise BadInput(f"download of {declared} bytes exceeds max_bytes")
                body = bytearray()
                for chunk in response.iter_content(chunk_size=1 << 16):
                    body += chunk
                    if len(body) > self.options.max_bytes:
                        raise BadInput(f"download exceeds max_bytes ({self.options.max_bytes})")
                encoded = response.headers.get("Content-Encoding")
                if declared and not encoded and len(body) != declared:
                    raise SourceUnavailable(
                        f"{redact(url)}: truncated body: {len(body)} of {declared} bytes"
                    )
                return bytes(body), response.headers
        except requests.RequestException as exc:
            raise SourceUnavailable(f"{redact(url)}: {_describe(exc)}") from None

    def _check_sum(self, url: str, body: bytes) -> None:
        """Compare the body's digest with the published checksum file, when there is one."""
        if not self.options.checksum_url:
            return
        expected_text, _ = self._get(self.options.checksum_url.format(url=url))
        expected = expected_text.decode("ascii", "replace").split()[0].lower()
        actual = hashlib.new(self.options.checksum, body).hexdigest()
        if expected != actual:
            raise BadInput(f"{self.options.checksum} mismatch: got {actual}, published {expected}")

    def fetch(self, candidate: Candidate) -> Fetched:
        """Download the frame; the ETag, when sent, goes into the provenance."""
        url = self.url(candidate.time)
        body, headers = self._get(url)
        payload = Payload(candidate.name, data=body)
        try:
            self._check_sum(url, body)
        except BadInput as exc:
            raise BadInput(str(exc), payload) from None
        etag = headers.get("ETag")
        provenance = redact(url) + (f" (ETag {etag})" if etag else "")
        return Fetched(candidate, payload=payload, provenance=provenance)


def _describe(exc: Exception) -> str:
    """A short reason for a failed request (the exception type and first line)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = SECRET_VALUE.sub(r"\1=***", text)
    return f"{type(exc).__name__}: {text}"[:300]
