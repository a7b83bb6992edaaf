"""What the web app may serve and to whom: safe relative paths, the bearer token, the bind."""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_ENV = "NOWCAST_SERVE_TOKEN"
SERVED_SUFFIXES = {".nc", ".png", ".gif", ".html", ".csv", ".md"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Percent-encoded dot, slash, backslash or NUL in a raw request path: never needed, refused.
ENCODED_TRICKS = re.compile(rb"%(2e|2f|5c|00)", re.IGNORECASE)


class PathRefused(ValueError):
    """A requested path that could leave its root (or is otherwise not servable)."""


def valid_name(name: str) -> bool:
    """Whether a pipeline name or forecast id is a plain name (no separators, no `..`)."""
    return bool(NAME.fullmatch(name)) and ".." not in name


def safe_file(root: Path, relative: str) -> Path:
    """The file `relative` under `root`, refusing anything that could reach outside it.

    Refused: empty, absolute or drive paths, backslashes, NUL, `.`/`..` or hidden parts,
    suffixes other than the products', and symlinks whose target is outside the root.
    Raises FileNotFoundError when the (safe) path does not exist.
    """
    if not relative or relative.startswith(("/", "\\")) or "\\" in relative or "\x00" in relative:
        raise PathRefused("not a relative path")
    parts = relative.split("/")
    if any(not part or part.startswith(".") or ":" in part for part in parts):
        raise PathRefused("path parts may not be empty, hidden, `.` or `..`")
    if Path(parts[-1]).suffix.lower() not in SERVED_SUFFIXES:
        raise PathRefused("not a product or forecast file type")
    base = root.resolve()
    target = base.joinpath(*parts).resolve(strict=True)
    if not target.is_relative_to(base):
        raise PathRefused("path leaves the served folder")
    if not target.is_file():
        raise FileNotFoundError(relative)
    return target


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_warning(host: str, token: str | None) -> str | None:
    """The warning to print when the page would be open to the network without a token."""
    if token or is_loopback(host):
        return None
    return (
        f"warning: serving on {host} without a token: anyone who can reach this port can read "
        f"the forecasts (set {TOKEN_ENV} to require `Authorization: Bearer <token>`)"
    )


class TokenMiddleware:
    """Refuse (401) every HTTP request without `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "missing or wrong bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="nowcast"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class EncodedPathGuard:
    """Refuse (400) requests whose raw path hides dots, slashes or NUL behind percent-encoding."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and ENCODED_TRICKS.search(raw):
            body = json.dumps({"error": "encoded separators are not allowed in paths"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
