"""The planner waters on the posterior P(Dr + ETc >= RAW), from readings through the real stages.

Two loam zones on one weather station, identical but for what the registry knows of their
soil: one has a soil test (θFC/θWP measured), the other only its texture class (the FAO-56
Table 19 defaults, RAW uncertain by ~±5 mm at 0.3 m). Hourly station readings of a hot dry
spell go through the real analytics engine (water stage: ET0, the Kalman balance) and the
real ``WateringPlanner``. With the mean rule (confidence None) both open the same morning;
on the posterior they wait to be sure, and the spread each decision states differs by the
registered soil's RAW spread (``soils.taw_sd_mm``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from greeniot.actions.plan import ValveOpen
from greeniot.actions.watering import NEED_CONFIDENCE, WateringPlanner
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.clock import MS_PER_DAY, MS_PER_HOUR
from greeniot.estate import DeviceBinding, EstateContext, ZoneInfo
from greeniot.protocol.messages import WeatherReading
from greeniot.soils import taw_sd_mm

SITE = "estate-conf"
START = int(dt.datetime(2026, 7, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _zone(name: str, *, from_texture: bool) -> ZoneInfo:
    return ZoneInfo(SITE, name, valve_device=f"v-{name}", application_rate_mm_h=12.0,
                    efficiency=0.75, irrigation_kind="rotor", max_run_s=7200,
                    daily_max_s=12 * 3600, theta_fc=0.25, theta_wp=0.12, root_depth_m=0.3,
                    mad_p=0.5, kc_by_month=(0.9,) * 12, soil_texture="loam",
                    soil_from_texture=from_texture, lat_deg=30.0, elevation_m=50.0)


def _first_openings(confidence: float | None, days: int = 9) -> dict[str, tuple[int, str]]:
    zones = (_zone("tested", from_texture=False), _zone("texture", from_texture=True))
    ctx = EstateContext(devices=(DeviceBinding(SITE, "wx", "weather"),
                                 *(DeviceBinding(SITE, z.valve_device or "", "valve",
                                                 zone=z.zone) for z in zones)),
                        zones=zones)
    engine = AnalyticsEngine(ctx)
    tracker = ZoneTracker()
    planner = WateringPlanner(confidence=confidence)
    first: dict[str, tuple[int, str]] = {}
    seq = 0
    for d in range(days):
        for h in range(24):
            ts = START + d * MS_PER_DAY + h * MS_PER_HOUR
            phase = np.sin(2 * np.pi * (h - 9) / 24)
            arc = max(0.0, float(np.sin(np.pi * (h + 0.5 - 6) / 12))) if 6 <= h < 18 else 0.0
            seq += 1
            msg = WeatherReading(seq=seq, ts_ms=ts + 30 * 60_000,
                                 air_temp_c=round(28.0 + 5.0 * phase, 1),
                                 rh_pct=round(60.0 - 20.0 * phase), wind_ms=2.5,
                                 solar_w_m2=round(850.0 * arc, 1), rain_mm=0.0)
            engine.ingest(SITE, "wx", msg)
            tracker.observe_weather(SITE, msg)
            result = engine.tick(ts)
            for act in planner.plan(result.balance, ctx, tracker.states(ctx, ts), ts):
                if isinstance(act, ValveOpen) and act.zone not in first:
                    first[act.zone] = (d, act.reason)
    return first


def _sd(reason: str) -> float:
    m = re.search(r"\+ [0-9.]+ sd ([0-9.]+) mm \(P ≥", reason)
    assert m is not None, reason
    return float(m.group(1))


def test_the_posterior_waits_and_carries_the_soil_spread() -> None:
    mean = _first_openings(None)
    assert set(mean) == {"tested", "texture"}
    assert mean["tested"][0] == mean["texture"][0]  # the mean rule cannot tell them apart
    post = _first_openings(NEED_CONFIDENCE)
    assert set(post) == {"tested", "texture"}
    assert all(post[z][0] >= mean[z][0] for z in post)
    assert any(post[z][0] > mean[z][0] for z in post)  # waited to be sure
    for _, reason in post.values():
        assert f"(P ≥ {NEED_CONFIDENCE:g})" in reason and "refill to field capacity" in reason
    # Same balance, same day: the spreads differ by exactly the registered soil's RAW spread.
    assert post["tested"][0] == post["texture"][0]
    raw_var = [(0.5 * taw_sd_mm("loam", measured=m, root_depth_m=0.3)) ** 2
               for m in (False, True)]
    assert _sd(post["texture"][1]) ** 2 - _sd(post["tested"][1]) ** 2 == pytest.approx(
        raw_var[0] - raw_var[1], abs=0.5)


def test_a_bad_confidence_is_refused_at_the_decision() -> None:
    with pytest.raises(ValueError, match=r"confidence must be within 0\.5\.\.1"):
        _first_openings(1.5, days=3)


def test_the_service_takes_its_confidence_and_hour_from_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``GREENIOT_IRRIGATION__*`` reach the maintenance process's planner; the defaults are
    the planner's own; a confidence outside 0.5..1 is refused by name."""
    from pydantic import ValidationError

    from greeniot.actions.watering import DECISION_HOUR_LOCAL
    from greeniot.config import Settings
    from greeniot.registry.db import engine_from_url, migrate, session_factory
    from greeniot.runtime.maintenance import MaintenanceService

    assert Settings().irrigation.need_confidence == NEED_CONFIDENCE
    assert Settings().irrigation.decision_hour_local == DECISION_HOUR_LOCAL
    url = f"sqlite:///{tmp_path}/registry.sqlite3"
    migrate(url)
    monkeypatch.setenv("GREENIOT_IRRIGATION__NEED_CONFIDENCE", "0.9")
    monkeypatch.setenv("GREENIOT_IRRIGATION__DECISION_HOUR_LOCAL", "4.5")
    svc = MaintenanceService(Settings(), EstateContext(), session_factory(engine_from_url(url)))
    assert svc.executor.planner.confidence == 0.9
    assert svc.executor.planner.hour_local == 4.5
    monkeypatch.setenv("GREENIOT_IRRIGATION__NEED_CONFIDENCE", "0.4")
    with pytest.raises(ValidationError, match="need_confidence"):
        Settings()
