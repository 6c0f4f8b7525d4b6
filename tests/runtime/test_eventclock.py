"""The event-time watermark over sites."""

from __future__ import annotations

from greeniot.runtime.eventclock import EventClock


class Wall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_watermark_is_the_slowest_talking_site_and_never_goes_back() -> None:
    wall = Wall()
    clock = EventClock(idle_s=30, monotonic=wall)
    assert clock() == 0
    clock.observe(10_000, "a")
    clock.observe(4_000, "b")
    assert clock() == 4_000  # b lags: its devices must not look offline
    clock.observe(3_000, "b")  # a late reading does not move the clock back
    assert clock() == 4_000
    clock.observe(12_000, "b")
    assert clock() == 10_000


def test_a_silent_site_stops_holding_the_clock_back() -> None:
    wall = Wall()
    clock = EventClock(idle_s=30, monotonic=wall)
    clock.observe(1_000, "quiet")
    clock.observe(5_000, "busy")
    assert clock() == 1_000
    wall.t += 31
    clock.observe(9_000, "busy")
    assert clock() == 9_000
