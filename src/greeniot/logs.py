"""Structured logging: one line per event for people, or JSON lines for collectors.

Times are ISO 8601 with the zone (``2026-12-01T10:04:05.123+00:00``, UTC), so lines from
several hosts and days sort and compare. A traceback is printed only at ``DEBUG``
(``GREENIOT_LOG_LEVEL=DEBUG``) or inside a JSON line (``GREENIOT_LOG_JSON=true``): at the other
levels a failure is the one line that names it, with the exception's message appended.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


def iso_time(epoch_s: float) -> str:
    """``epoch_s`` [s] as ISO 8601 UTC with milliseconds and an explicit zone."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def _exc_summary(record: logging.LogRecord) -> str:
    exc = record.exc_info[1] if record.exc_info else None
    if exc is None:
        return ""
    text = str(exc).strip().splitlines()
    return f" ({type(exc).__name__}: {text[0]})" if text else f" ({type(exc).__name__})"


class TextFormatter(logging.Formatter):
    """``<iso time> <LEVEL> <logger>: <message>``; tracebacks only when ``debug`` is on."""

    def __init__(self, *, debug: bool = False) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        line = (f"{iso_time(record.created)} {record.levelname:<7} {record.name}: "
                f"{record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            if self.debug:
                line += "\n" + self.formatException(record.exc_info)
            elif str(record.exc_info[1]) not in line:  # the message may name it already
                line += _exc_summary(record)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg`` and, for
    a failure, ``exc`` (the whole traceback: collectors keep it out of people's way)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


def setup_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines
                         else TextFormatter(debug=level == "DEBUG"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter stays at warning unless we debug.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel("WARNING" if level != "DEBUG" else level)
    # paho's own thread logs nothing we need; uvicorn's error logger reports start-up
    # failures that we already turn into one line.
    logging.getLogger("uvicorn.error").setLevel("WARNING" if level != "DEBUG" else level)
