"""JSON responses that carry an ISO 8601 time next to every epoch-ms field.

Times stay int ms UTC at every edge (``created_ms``); people and tools reading the JSON also
get ``created_iso`` (``2026-12-01T10:04:05.123+00:00``) beside each, added on the way out so no
schema has to repeat it. Only integer ``*_ms`` fields that hold an epoch time are annotated
(durations such as ``max_run_s`` are seconds and keep no ``_ms`` suffix).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

#: Epoch ms below this is a duration, not a time (2000-01-01, the protocol's lower bound).
MIN_EPOCH_MS = 946_684_800_000


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def with_iso_times(content: Any) -> Any:
    """A copy of ``content`` with ``<name>_iso`` beside every epoch ``<name>_ms`` value."""
    if isinstance(content, list):
        return [with_iso_times(v) for v in content]
    if not isinstance(content, dict):
        return content
    out: dict[str, Any] = {}
    for key, value in content.items():
        out[key] = with_iso_times(value)
        if (isinstance(key, str) and key.endswith("_ms") and isinstance(value, int)
                and not isinstance(value, bool) and value >= MIN_EPOCH_MS):
            iso_key = key[:-3] + "_iso"
            if iso_key not in content:
                out[iso_key] = iso_ms(value)
    return out


class IsoJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return super().render(with_iso_times(content))
