"""GET /irrigation/decisions: stored watering decisions with their inputs, viewer+."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.analytics.irrigation.decision import (
    ProbeReading,
    WaterState,
    decide,
)
from greeniot.analytics.irrigation.lockouts import Conditions, Forecast
from greeniot.estate import ZoneHydraulics
from greeniot.registry.decisions import record_decisions

T0 = 1_795_510_737_944
ZONE = ZoneHydraulics(site="s1", zone="z1", application_rate_mm_h=12.0, efficiency=0.75,
                      kind="rotor", max_run_s=1800, area_m2=40.0)


def _state(dr: float) -> WaterState:
    return WaterState(dr_mm=dr, taw_mm=39.0, raw_mm=19.5, et0_mm=4.2, etc_mm=3.8,
                      probes=(ProbeReading("p1", 41.0, 0.19, 0),))


def test_decisions_are_listed_newest_first_with_their_inputs(
        registry: sessionmaker[Session], clients: dict[str, TestClient]) -> None:
    made = [
        decide(ZONE, _state(22.0), Conditions(air_temp_c=18.0), now_ms=T0, month=7),
        decide(ZONE, _state(24.0), Conditions(
            air_temp_c=18.0, forecast=Forecast(rain_today_mm=12.0)), now_ms=T0 + 86_400_000,
            month=7),
        decide(ZONE, _state(3.0), Conditions(air_temp_c=18.0), now_ms=T0 + 2 * 86_400_000,
               month=7),
    ]
    with registry() as s:
        ids = record_decisions(s, made, now_ms=T0)
        assert record_decisions(s, made[:1], now_ms=T0) == ids[:1]  # stored once
    viewer = clients["viewer"]
    r = viewer.get("/api/v1/irrigation/decisions", params={"site": "s1"})
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    assert [d["outcome"] for d in body] == ["not_needed", "locked_out", "water"]
    water = body[2]
    assert abs(water["gross_mm"] - 22.0 / 0.75) < 0.01
    assert water["cycles"] == 5 and water["run_s"] == 8800
    assert water["record"]["state"]["probes"][0]["theta"] == 0.19
    assert body[1]["lockouts"] == ["rain_forecast"] and body[1]["rain_forecast_mm"] == 12.0
    only = viewer.get("/api/v1/irrigation/decisions",
                      params={"outcome": "locked_out", "since_ms": T0 + 1}).json()
    assert [d["id"] for d in only] == [ids[1]]
    one = viewer.get(f"/api/v1/irrigation/decisions/{ids[0]}")
    assert one.status_code == 200 and one.json()["text"].startswith("s1/z1 water: ET0 4.2 mm")
    assert viewer.get("/api/v1/irrigation/decisions/999999").status_code == 404
    assert viewer.get("/api/v1/irrigation/decisions",
                      params={"outcome": "maybe"}).status_code == 422
