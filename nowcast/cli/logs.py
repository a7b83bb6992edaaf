"""Logging set-up: readable lines for people, JSON lines for machines."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with an ISO 8601 UTC timestamp."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def configure_logging(verbose: bool = False, quiet: bool = False, json_lines: bool = False) -> None:
    """Route the `nowcast` loggers to stderr at the level the global flags ask for."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
            )
        )
        handler.formatter.converter = time.gmtime
    root = logging.getLogger("nowcast")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
