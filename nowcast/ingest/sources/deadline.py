"""The one retry layer with a total deadline: urllib3 Retry that never waits past the fetch's end.

A `DeadlineRetry` carries the monotonic time its fetch must end by and a cap on `Retry-After`:
it sleeps at most until the deadline, counts as exhausted once the deadline has passed (so
urllib3 stops retrying and the fetch fails), and never honours a `Retry-After` longer than
`max_retry_after_s` (a server asking for an hour gets the cap).
"""

from __future__ import annotations

import time
from typing import Any

from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry


class DeadlineRetry(Retry):
    """urllib3 Retry bounded by a monotonic deadline and a Retry-After cap."""

    def __init__(
        self, *args: Any, deadline: float = float("inf"), max_retry_after_s: float = 60.0, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.deadline = deadline
        self.max_retry_after_s = max_retry_after_s

    def new(self, **kw: Any) -> DeadlineRetry:
        """A copy after one more attempt, keeping the deadline and the cap."""
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("max_retry_after_s", self.max_retry_after_s)
        return super().new(**kw)  # type: ignore[return-value]

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        """The server's Retry-After, capped at `max_retry_after_s` and at the deadline."""
        asked = super().get_retry_after(response)
        if asked is None:
            return None
        return min(asked, self.max_retry_after_s, self.remaining())

    def get_backoff_time(self) -> float:
        """The exponential backoff, never past the deadline."""
        return min(super().get_backoff_time(), self.remaining())

    def is_exhausted(self) -> bool:
        """Out of attempts, or out of time."""
        return self.remaining() <= 0 or super().is_exhausted()

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """Retry a status only while time is left."""
        return self.remaining() > 0 and super().is_retry(method, status_code, has_retry_after)
