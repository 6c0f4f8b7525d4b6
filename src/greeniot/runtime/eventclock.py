"""Event time: analytics and actions run on the devices' timestamps, so replaying a recorded
storm at 100x raises the same tasks as living through it.

The clock is a watermark over sources (sites), as stream processors do it: the newest timestamp
seen from each site, and the minimum of those over the sites that are still talking. With one
global maximum instead, a site whose messages arrive a little later than another's would look
silent, and its devices "offline". A site quiet for ``idle_s`` of wall time stops holding the
clock back (otherwise one estate losing its uplink would freeze analytics everywhere).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class EventClock:
    def __init__(self, *, start_ms: int = 0, idle_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self._monotonic = monotonic
        self._latest: dict[str, int] = {}  # source → newest ts_ms
        self._heard: dict[str, float] = {}  # source → wall time last heard [s, monotonic]
        self._now = start_ms

    def advance_to(self, ts_ms: int) -> None:
        """Never report a time before ``ts_ms`` (e.g. the newest reading of a warm start)."""
        self._now = max(self._now, ts_ms)

    def observe(self, ts_ms: int | None, source: str = "") -> None:
        if ts_ms is None:
            return
        self._heard[source] = self._monotonic()
        if ts_ms > self._latest.get(source, 0):
            self._latest[source] = ts_ms

    def __call__(self) -> int:
        """The watermark [ms UTC]; never goes backwards."""
        if self._latest:
            cutoff = self._monotonic() - self.idle_s
            active = [ts for src, ts in self._latest.items() if self._heard[src] >= cutoff]
            candidate = min(active) if active else max(self._latest.values())
            self._now = max(self._now, candidate)
        return self._now

    @property
    def now_ms(self) -> int:
        return self()
