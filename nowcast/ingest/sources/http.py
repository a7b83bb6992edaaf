"""Frames published over HTTP(S) at a URL template, one per cadence step.

`url = "https://host/path/{time:%Y/%m/%d}/{time:%Y%m%d%H%M}.nc"`. A requests session retries
connection errors, read timeouts and 5xx answers with exponential backoff (urllib3 Retry, the
one retry layer: `retries = N` means at most N + 1 requests per file in one run). Every fetch
has deadlines: `connect_timeout_s` and `timeout_s` per socket operation, `total_timeout_s` for
the whole fetch (retries, Retry-After waits and a slow body included) and `max_retry_after_s`
as the longest Retry-After honoured. 404 means "not published yet"; bodies are capped at
`max_bytes` and checked against a checksum file when `checksum_url` is set. Redirects to
another host are refused unless listed in `redirect_hosts`. Credentials come only from
environment variables named in the pipeline and are never logged: provenance and errors show
URLs without user:password and with every query value masked (except `public_query_keys`).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import pandas as pd
import requests
from pydantic import Field
from urllib3.exceptions import HTTPError as Urllib3Error

from nowcast.core import ConfigError
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources.base import (
    BadInput,
    Candidate,
    Fetched,
    NotPublished,
    SourceOptions,
    SourceUnavailable,
)
from nowcast.ingest.sources.deadline import DeadlineRetry
from nowcast.ingest.sources.watchdog import WatchedAdapter, watch

RETRY_STATUS = (500, 502, 503, 504)
MAX_REDIRECTS = 5
CHUNK_BYTES = 1 << 16
QUERY_VALUE = re.compile(r"([?&][^=&\s'\"]*)=[^&\s'\"]*")
BARE_QUERY_TOKEN = re.compile(r"([?&])[^=&\s'\"]+(?=$|[&\s'\"])")


class HttpOptions(SourceOptions):
    """URL template, timeouts, retries, size cap, checksum and credential variable names."""

    url: str
    connect_timeout_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(30.0, gt=0, description="read timeout per socket operation")
    total_timeout_s: float = Field(
        300.0, gt=0, description="deadline for one fetch: retries, waits and body included"
    )
    max_retry_after_s: float = Field(60.0, ge=0, description="longest Retry-After honoured")
    retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)
    max_bytes: int = Field(200_000_000, gt=0)
    checksum_url: str | None = Field(None, description="template; {url} is the frame's URL")
    checksum: Literal["sha256", "md5", "sha1"] = "sha256"
    username_env: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    public_query_keys: frozenset[str] = Field(
        frozenset(), description="query keys whose values may be logged and stored"
    )
    redirect_hosts: frozenset[str] = Field(
        frozenset(), description="other hosts a redirect may lead to"
    )


def redact(url: str, public: frozenset[str] = frozenset()) -> str:
    """The URL without user:password and with every query value masked but `public` keys';
    a query item with no `=` (a bare token) is masked whole."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = "&".join(
        (f"{k}={v}" if k in public else f"{k}=***") if sep else "***"
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _env(name: str) -> str:
    """The value of a credential variable; ConfigError (naming only the variable) when unset."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} (named in the pipeline) is not set")
    return value


def make_retry(options: HttpOptions, deadline: float = float("inf")) -> DeadlineRetry:
    """The one retry layer: connection errors, read timeouts and 5xx, until `deadline`."""
    return DeadlineRetry(
        total=options.retries,
        connect=options.retries,
        read=options.retries,
        status=options.retries,
        redirect=0,
        backoff_factor=options.backoff_s,
        status_forcelist=RETRY_STATUS,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
        deadline=deadline,
        max_retry_after_s=options.max_retry_after_s,
    )


def make_session(options: HttpOptions) -> requests.Session:
    """A session that retries connection errors, read timeouts and 5xx with backoff."""
    session = requests.Session()
    adapter = WatchedAdapter(max_retries=make_retry(options))
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

    def redact(self, url: str) -> str:
        """A URL as it may be logged and stored (see `redact`)."""
        return redact(url, self.options.public_query_keys)

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
            found.append(Candidate(when, name, self.redact(url)))
        return found

    def _retry_until(self, deadline: float) -> None:
        """Bound the session's one retry layer by this fetch's monotonic deadline."""
        for adapter in (self.session.get_adapter("http://"), self.session.get_adapter("https://")):
            adapter.max_retries = make_retry(self.options, deadline)  # type: ignore[attr-defined]

    def _open(self, url: str, deadline: float) -> tuple[requests.Response, str]:
        """The response for `url` after same-host redirects, and the final URL."""
        self._retry_until(deadline)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SourceUnavailable(self._late(url))
            options = self.options
            timeout = (min(options.connect_timeout_s, left), min(options.timeout_s, left))
            response = self.session.get(
                current, timeout=timeout, stream=True, allow_redirects=False
            )
            if not response.is_redirect:
                return response, current
            target = urljoin(current, response.headers.get("Location", ""))
            response.close()
            host = urlsplit(target).hostname or ""
            if host != urlsplit(current).hostname and host not in self.options.redirect_hosts:
                raise SourceUnavailable(
                    f"{self.redact(url)}: redirect to another host ({host}) refused; list it"
                    " in [source] redirect_hosts if the publisher really moved there"
                )
            current = target
        raise SourceUnavailable(f"{self.redact(url)}: more than {MAX_REDIRECTS} redirects")

    def _late(self, url: str) -> str:
        """The message for a fetch that ran past its total deadline."""
        return (
            f"{self.redact(url)}: no complete answer within total_timeout_s ="
            f" {self.options.total_timeout_s:g} s; the next run tries again"
        )

    def get(self, url: str) -> tuple[bytes, requests.structures.CaseInsensitiveDict, str]:
        """GET a body with the size cap and the deadlines; also returns the final URL.

        The session's Retry is the only retry layer. A body cut short, or an answer (headers or
        body) still arriving at the total deadline, fails this fetch (the watchdog shuts its
        socket; the next ingest run tries the frame again).
        """
        deadline = time.monotonic() + self.options.total_timeout_s
        with watch(deadline) as fetch:
            try:
                return self._read(url, deadline)
            except (requests.RequestException, Urllib3Error) as exc:
                if fetch.expired:
                    raise SourceUnavailable(self._late(url)) from None
                raise SourceUnavailable(f"{self.redact(url)}: {_describe(exc)}") from None

    def _read(
        self, url: str, deadline: float
    ) -> tuple[bytes, requests.structures.CaseInsensitiveDict, str]:
        """The body, headers and final URL of one GET, failing once `deadline` has passed."""
        response, final = self._open(url, deadline)
        with response:
            shown = self.redact(final)
            if response.status_code == 404:
                raise NotPublished(f"{shown}: 404 not published yet")
            if response.status_code >= 400:
                raise SourceUnavailable(f"{shown}: HTTP {response.status_code}")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > self.options.max_bytes:
                raise BadInput(f"download of {declared} bytes exceeds max_bytes")
            body = bytearray()
            while chunk := response.raw.read1(CHUNK_BYTES, decode_content=True):
                body += chunk
                if len(body) > self.options.max_bytes:
                    raise BadInput(f"download exceeds max_bytes ({self.options.max_bytes})")
            if time.monotonic() >= deadline:
                raise SourceUnavailable(self._late(url))
            encoded = response.headers.get("Content-Encoding")
            if declared and not encoded and len(body) != declared:
                raise SourceUnavailable(f"{shown}: truncated body: {len(body)} of {declared} bytes")
            return bytes(body), response.headers, final

    def _check_sum(self, url: str, body: bytes) -> None:
        """Compare the body's digest with the published checksum file, when there is one."""
        if not self.options.checksum_url:
            return
        expected_text, _, _ = self.get(self.options.checksum_url.format(url=url))
        expected = expected_text.decode("ascii", "replace").split()[0].lower()
        actual = hashlib.new(self.options.checksum, body).hexdigest()
        if expected != actual:
            raise BadInput(f"{self.options.checksum} mismatch: got {actual}, published {expected}")

    def fingerprint(self, candidate: Candidate) -> str | None:
        """`<size>-<ETag>` from a HEAD request (None when unknown), to spot a changed file."""
        url = self.url(candidate.time)
        deadline = time.monotonic() + self.options.total_timeout_s
        self._retry_until(deadline)
        timeout = (self.options.connect_timeout_s, self.options.timeout_s)
        try:
            with watch(deadline):
                response = self.session.head(url, timeout=timeout, allow_redirects=False)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        return _fingerprint(response.headers)

    def fetch(self, candidate: Candidate) -> Fetched:
        """Download the frame; the final URL and the ETag, when sent, go into the provenance."""
        url = self.url(candidate.time)
        body, headers, final = self.get(url)
        candidate = replace(candidate, fingerprint=_fingerprint(headers, len(body)))
        payload = Payload(candidate.name, data=body)
        try:
            self._check_sum(url, body)
        except BadInput as exc:
            raise BadInput(str(exc), payload) from None
        etag = headers.get("ETag")
        provenance = self.redact(final) + (f" (ETag {etag})" if etag else "")
        return Fetched(candidate, payload=payload, provenance=provenance)


def _fingerprint(headers: Mapping[str, str], size: int | None = None) -> str | None:
    """`<size>-<ETag>` of a response (the declared size first); None without either."""
    declared = headers.get("Content-Length") or (str(size) if size is not None else "")
    etag = headers.get("ETag") or ""
    return f"{declared}-{etag}" if declared or etag else None


def _describe(exc: Exception) -> str:
    """A short reason for a failed request (the exception type and first line, values masked)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = BARE_QUERY_TOKEN.sub(r"\1***", QUERY_VALUE.sub(r"\1=***", text))
    return f"{type(exc).__name__}: {text}"[:300]
