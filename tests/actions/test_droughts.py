"""Drought episodes: follow-ups while fresh probe readings stay dry, closed when they don't."""

from __future__ import annotations

import pytest

from greeniot.actions.droughts import DroughtEpisodes
from greeniot.analytics.contract import Event
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol import SoilReading

T0 = 1_795_510_737_944
H = 3600 * 1000
S = "estate-a"
CTX = EstateContext(
    devices=(DeviceBinding(S, "soil-1", "soil", zone="z1"),
             DeviceBinding(S, "soil-2", "soil", zone="z1"),
             DeviceBinding(S, "soil-3", "soil", zone="z1"),
             DeviceBinding(S, "valve-1", "valve", zone="z1")),
    zones=(ZoneInfo(S, "z1", refill_vwc_pct=18.0, valve_device="valve-1"),),
)
DROUGHT = Event(kind="drought", site=S, ts_ms=T0, severity="warning", value=14.0,
                threshold=18.0, unit="vwc_pct", device="soil-1", zone="z1")


def soil(ts_ms: int, vwc: float) -> SoilReading:
    return SoilReading(seq=1, ts_ms=ts_ms, vwc_pct=vwc)


@pytest.mark.parametrize(("readings", "now_ms", "expect_vwc", "still_open"), [
    ({"soil-1": 12.0, "soil-2": 15.0, "soil-3": 30.0}, T0 + H, 15.0, True),   # median dry
    ({"soil-1": 12.0, "soil-2": 19.0, "soil-3": 30.0}, T0 + H, None, False),  # median wet
    ({"soil-1": 12.0}, T0 + 4 * H, None, True),   # only stale evidence: silent, kept open
    ({}, T0 + H, None, True),                      # no evidence at all
])
def test_follow_ups(readings: dict[str, float], now_ms: int, expect_vwc: float | None,
                    still_open: bool) -> None:
    d = DroughtEpisodes()
    d.note([DROUGHT])
    for dev, vwc in readings.items():
        d.observe_soil(S, dev, soil(T0 + 600_000, vwc))
    out = d.follow_ups(CTX, now_ms)
    if expect_vwc is None:
        assert out == []
    else:
        (ev,) = out
        assert (ev.kind, ev.site, ev.zone, ev.value, ev.threshold, ev.ts_ms) == (
            "drought", S, "z1", expect_vwc, 18.0, T0 + 600_000)
        assert ev.detail.startswith("follow-up: median of 3 probe(s) 15.0% VWC")
    assert d.open_zones() == ([(S, "z1")] if still_open else [])


def test_no_episode_no_follow_up_and_skip() -> None:
    d = DroughtEpisodes()
    d.observe_soil(S, "soil-1", soil(T0, 5.0))
    assert d.follow_ups(CTX, T0) == []  # dry probe, but analytics raised no drought
    d.note([DROUGHT])
    assert d.follow_ups(CTX, T0, skip={(S, "z1")}) == []  # already has an event this tick
    assert len(d.follow_ups(CTX, T0)) == 1


def test_a_late_reading_does_not_replace_a_newer_one() -> None:
    d = DroughtEpisodes()
    d.note([DROUGHT])
    d.observe_soil(S, "soil-1", soil(T0 + 2 * H, 25.0))
    d.observe_soil(S, "soil-1", soil(T0 + H, 10.0))  # buffered, older
    assert d.follow_ups(CTX, T0 + 2 * H) == []
    assert d.open_zones() == []
