"""Wall-clock time in int ms UTC: the default when a caller passes no event time.

Analytics and actions run on event time and pass ``now_ms`` explicitly (replays must raise the
same tasks as living through them); the API and the CLI fall back to this clock.
"""

from __future__ import annotations

import time


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch, UTC."""
    return time.time_ns() // 1_000_000
