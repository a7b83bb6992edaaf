"""`nowcast pipeline new --from URL`: the files an HTTP directory listing links to.

A listing is the HTML index a web server writes for a folder (Apache, nginx, `python -m
http.server`): its links to files in that folder are the series' names; links elsewhere (other
hosts, parent or sub-folders, queries) are left out. Pages and files are fetched through the
HTTP source itself (one retry layer, deadlines, size cap, same-host redirects only).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pandas as pd

from nowcast.core import ConfigError, DataMissingError, SourceError
from nowcast.ingest.sources.base import BadInput, NotPublished, SourceUnavailable
from nowcast.ingest.sources.http import HttpOptions, HttpSource, redact

LISTING_MAX_BYTES = 20_000_000
UNSAFE = set('{}%/\\?#"') | {chr(code) for code in range(32)}


class _Links(HTMLParser):
    """Every `href` of the page's `<a>` tags, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for key, value in attrs if key == "href" and value]


def is_url(text: str) -> bool:
    """Whether `--from` names an http(s) listing rather than a folder."""
    return urlsplit(text).scheme in ("http", "https")


def folder_url(url: str) -> str:
    """The listing's URL ending in `/`, so its links resolve inside the folder."""
    return url if url.endswith("/") else f"{url}/"


def listing_source(url: str) -> HttpSource:
    """An HTTP source for reading the listing and a few of its files."""
    options = HttpOptions(url=url, retries=2, total_timeout_s=120.0)
    return HttpSource(options, pd.Timedelta("10min"), None)


def fetched(source: HttpSource, url: str, limit: int | None = None) -> tuple[bytes, str]:
    """The body and final URL of `url`; one clear error when it cannot be had."""
    try:
        body, _, final = source.get(url)
    except NotPublished:
        raise DataMissingError(f"{redact(url)}: 404 not found") from None
    except SourceUnavailable as exc:
        raise SourceError(str(exc)) from None
    except BadInput as exc:
        raise DataMissingError(f"{redact(url)}: {exc}") from None
    if limit is not None and len(body) > limit:
        raise DataMissingError(f"{redact(url)}: a listing of over {limit} bytes")
    return body, final


def listed_names(source: HttpSource, url: str) -> list[str]:
    """The names of the files the listing at `url` links to, in the folder itself."""
    body, final = fetched(source, folder_url(url), LISTING_MAX_BYTES)
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    base = urlsplit(final)
    names = []
    for href in parser.hrefs:
        target = urlsplit(urljoin(final, href))
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            continue
        if target.query or not target.path.startswith(base.path):
            continue
        name = unquote(target.path[len(base.path) :])
        if name and not name.startswith(".") and not UNSAFE & set(name):
            names.append(name)
    return list(dict.fromkeys(names))


def download(source: HttpSource, url: str, name: str, folder: Path) -> Path:
    """Fetch the listed file `name` into `folder`; its path there."""
    body, _ = fetched(source, urljoin(folder_url(url), name))
    path = folder / name
    path.write_bytes(body)
    return path


def url_template(url: str, pattern: str) -> str:
    """The HTTP source's `url` for files named by `pattern` in the listing's folder."""
    if "?" in pattern or "*" in pattern:
        raise ConfigError(
            f"the listed names vary beyond their times ({pattern}): an http source fetches "
            "one URL per time; give it the folder of the files instead, or a listing of one "
            "kind of name"
        )
    return f"{folder_url(url)}{{time:{pattern}}}"
