"""Event time: the newest device timestamp seen. Analytics and actions run on it, so replaying a
recorded storm at 100x raises the same tasks as living through it."""

from __future__ import annotations


class EventClock:
    def __init__(self, start_ms: int = 0) -> None:
        self.now_ms = start_ms

    def observe(self, ts_ms: int | None) -> None:
        if ts_ms is not None and ts_ms > self.now_ms:
            self.now_ms = ts_ms

    def __call__(self) -> int:
        return self.now_ms
