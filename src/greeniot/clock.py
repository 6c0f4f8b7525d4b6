"""Time at every edge is int ms UTC. One wall clock and the unit constants, for every layer.

Analytics and actions run on event time and take ``now_ms`` explicitly (replays must raise the
same tasks as living through them); this wall clock is only the default where no event time
is given (ingest's timestamp checks, the API, commands to real devices).
"""

from __future__ import annotations

import time

MS_PER_S = 1_000
MS_PER_MIN = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


def wall_ms() -> int:
    """Milliseconds since the Unix epoch, UTC."""
    return time.time_ns() // 1_000_000
