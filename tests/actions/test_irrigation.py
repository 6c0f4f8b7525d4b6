"""The irrigation path: zone water state → interlocks → valve opens, from pure inputs and from
soil readings through the real soil stage."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.actions.interlocks import ZoneState
from greeniot.actions.irrigation import SOIL_MAX_AGE_MS, plan_irrigation
from greeniot.actions.plan import Alert, ValveOpen
from greeniot.analytics.contract import ZoneWaterState
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol import SoilReading

NOW_MS = 1_795_510_737_944
SITE = "estate-a"
CTX = EstateContext(
    devices=(DeviceBinding(SITE, "soil-z02-0", "soil", zone="z02"),
             DeviceBinding(SITE, "soil-z02-1", "soil", zone="z02"),
             DeviceBinding(SITE, "soil-z02-2", "soil", zone="z02")),
    zones=(ZoneInfo(SITE, "z02", valve_device="valve-z02", max_run_s=600),
           ZoneInfo(SITE, "z03")),
)
OK_STATE = ZoneState(air_temp_c=18.0)


def water(zone: str | None, vwc: float, level: int, ts_ms: int = NOW_MS,
          device: str | None = None) -> ZoneWaterState:
    return ZoneWaterState(
        ts_ms=NOW_MS, site=np.array([SITE], dtype=object), zone=np.array([zone], dtype=object),
        device=np.array([device], dtype=object), vwc_pct=np.array([vwc]),
        n_probes=np.array([3]), refill_vwc_pct=np.array([18.0]), hours_above=np.array([0.0]),
        newest_ts_ms=np.array([ts_ms]), drought_level=np.array([level], np.int8),
        waterlog_level=np.array([0], np.int8))


def test_a_dry_zone_opens_its_valve_when_interlocks_allow() -> None:
    (v,) = plan_irrigation(water("z02", 14.2, 2), CTX, {(SITE, "z02"): OK_STATE}, NOW_MS)
    assert isinstance(v, ValveOpen)
    assert (v.site, v.device, v.zone, v.run_s) == (SITE, "valve-z02", "z02", 600)
    assert "14.2 % (median of 3 probe(s)) below refill point 18 %" in v.reason
    assert "management allowed depletion" in v.reason
    assert v.reasons[0] == v.reason and len(v.reasons) >= 2


def test_a_zone_not_dry_waters_nothing() -> None:
    assert plan_irrigation(water("z02", 25.0, 0), CTX, {(SITE, "z02"): OK_STATE}, NOW_MS) == []


@pytest.mark.parametrize(("state", "words"), [
    (ZoneState(rain_last_24h_mm=9.0, air_temp_c=18.0), "recent rain"),
    (ZoneState(air_temp_c=-1.0), "freezing"),
    (ZoneState(rain_forecast_mm=20.0, air_temp_c=18.0), "rain forecast"),
    (ZoneState(air_temp_c=18.0, last_irrigation_end_ms=NOW_MS - 60_000), "minimum interval"),
])
def test_a_lockout_gives_an_info_alert_not_a_valve(state: ZoneState, words: str) -> None:
    (a,) = plan_irrigation(water("z02", 12.0, 2), CTX, {(SITE, "z02"): state}, NOW_MS)
    assert isinstance(a, Alert)
    assert (a.kind, a.severity, a.zone) == ("irrigation_skipped", "info", "z02")
    assert a.dedup_key == f"irrigation_skipped:{SITE}:z02"
    assert words in a.message


def test_while_watering_it_is_silent() -> None:
    state = ZoneState(air_temp_c=18.0, valve_open=True)
    assert plan_irrigation(water("z02", 12.0, 2), CTX, {(SITE, "z02"): state}, NOW_MS) == []


def test_a_zone_without_valve_says_why() -> None:
    (a,) = plan_irrigation(water("z03", 12.0, 2), CTX, {}, NOW_MS)
    assert isinstance(a, Alert) and "no valve" in a.message


def test_stale_evidence_waters_nothing() -> None:
    old = NOW_MS - SOIL_MAX_AGE_MS - 1
    assert plan_irrigation(water("z02", 12.0, 2, ts_ms=old), CTX,
                           {(SITE, "z02"): OK_STATE}, NOW_MS) == []


def test_a_probe_of_no_known_zone_alerts_without_a_valve() -> None:
    (a,) = plan_irrigation(water(None, 12.0, 2, device="soil-x"), CTX, {}, NOW_MS)
    assert isinstance(a, Alert)
    assert (a.kind, a.dedup_key) == ("drought", f"drought_unzoned:{SITE}:soil-x")


def test_from_readings_one_open_per_zone_and_faulty_probes_left_out() -> None:
    """Three probes of one zone dry out; one of them is stuck (health leaves it out). The zone
    gets one open, judged on the two healthy probes."""
    engine = AnalyticsEngine(CTX)
    rng = np.random.default_rng(4)
    t0 = NOW_MS - 5 * 3_600_000
    for k in range(61):  # 5 h at 5 min: enough identical samples to call a probe stuck
        ts = t0 + k * 300_000
        for i, dev in enumerate(("soil-z02-0", "soil-z02-1")):
            engine.ingest(SITE, dev, SoilReading(seq=k, ts_ms=ts,
                                                 vwc_pct=12.0 + i + rng.normal(0, 0.2)))
        engine.ingest(SITE, "soil-z02-2", SoilReading(seq=k, ts_ms=ts, vwc_pct=27.3))
    result = engine.tick(t0 + 60 * 300_000)
    i = result.zones.find(SITE, "z02")
    assert i is not None and result.zones.drought_level[i] == 2
    assert result.zones.n_probes[i] == 2  # the stuck probe is left out
    out = plan_irrigation(result.zones, CTX, {(SITE, "z02"): OK_STATE}, NOW_MS)
    assert [type(a) for a in out] == [ValveOpen]


def test_long_waterlogging_from_readings_raises_the_drain_priority() -> None:
    """Soil readings above saturation, through the real soil stage and the rules: a drain task
    at the zone's limit (12 h), escalated to priority 2 at twice the limit, with the hours so
    far. The old contract read hours from the event's unit, which the soil stage never set, so
    the long-waterlogging priority could never fire."""
    from greeniot.actions.plan import Task
    from greeniot.actions.rules import decide

    ctx = EstateContext(
        devices=(DeviceBinding(SITE, "soil-z02-0", "soil", zone="z02"),),
        zones=(ZoneInfo(SITE, "z02", valve_device="valve-z02", saturation_vwc_pct=45.0,
                        waterlog_hours=12.0),))
    engine = AnalyticsEngine(ctx)
    t0 = NOW_MS - 30 * 3_600_000
    events = []
    for k in range(0, 30 * 4 + 1):  # 30 h at 15 min, saturated all along
        ts = t0 + k * 900_000
        engine.ingest(SITE, "soil-z02-0", SoilReading(seq=k, ts_ms=ts, vwc_pct=48.0 + k % 3 / 10))
        if k % 4 == 0:
            events += engine.tick(ts).events
    first, worse = [e for e in events if e.kind == "waterlog"]
    assert (first.phase, first.severity) == ("start", "warning")
    assert first.duration_s is not None and 12 * 3600 <= first.duration_s < 13 * 3600
    assert (worse.phase, worse.severity) == ("escalate", "critical")
    assert worse.duration_s is not None and worse.duration_s >= 24 * 3600
    (task,) = [a for a in decide([first], ctx) if isinstance(a, Task)]
    assert (task.kind, task.priority) == ("drain", 3)
    (task,) = [a for a in decide([worse], ctx) if isinstance(a, Task)]
    assert (task.kind, task.priority) == ("drain", 2)
    assert any(r.startswith("waterlogged for 24.") for r in task.reasons)
    assert any("limit 12.0 h" in r for r in task.reasons), task.reasons
