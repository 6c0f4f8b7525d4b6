"""Zone soil and probe calibration in the registry: migration 0006 keeps old rows working,
the API stores and validates the new fields, rows convert to the irrigation model."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from greeniot.calibration import CalibrationTable, ProbeQuality, calibrate
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.registry.irrigation import probe_specs, zone_hydraulics, zone_soil
from greeniot.registry.models import Device, Zone
from tests.api.conftest import API


def test_rows_from_before_0006_get_the_documented_defaults(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, revision="0001")
    engine = engine_from_url(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sites (id, name, created_ms) VALUES ('s', '', 1)"))
        conn.execute(sa.text(
            "INSERT INTO zones (site, id, name, refill_vwc_pct, saturation_vwc_pct, "
            "waterlog_hours, max_run_s, min_interval_s, daily_max_s) "
            "VALUES ('s', 'z', '', 18, 45, 12, 900, 21600, 3600)"))
        conn.execute(sa.text(
            "INSERT INTO devices (site, id, kind, zone_id, status, created_ms) "
            "VALUES ('s', 'p1', 'soil', 'z', 'unknown', 1)"))
    migrate(url)
    with session_factory(engine)() as session:
        zone = session.get(Zone, ("s", "z"))
        probe = session.get(Device, ("s", "p1"))
        assert zone is not None and probe is not None
        assert (zone.root_depth_m, zone.kc, zone.mad_p, zone.efficiency, zone.soak_s,
                zone.target_dr_mm) == (0.3, 0.8, 0.5, 0.8, 1800, 0.0)
        assert zone.theta_fc is None and zone.application_rate_mm_h is None
        assert (probe.calibration, probe.probe_weight, probe.probe_faulty) == (None, 1.0, False)
        soil = zone_soil(zone)
        assert soil.assumed_texture and soil.taw_mm == pytest.approx(39.0)  # loam, 0.3 m
        assert zone_hydraulics(zone) is None  # no rate: no run time can be computed
        assert probe_specs([probe], zone) == [None]
    engine.dispose()


def test_api_stores_zone_soil_and_probe_calibration(client: TestClient) -> None:
    body = {"site": "estate-a", "id": "z9", "irrigation_kind": "rotor", "soil_texture": "sand",
            "root_depth_m": 0.4, "kc_monthly": [0.6] * 5 + [0.9] * 4 + [0.6] * 3,
            "mad_p": 0.4, "application_rate_mm_h": 12.0, "efficiency": 0.75, "area_m2": 80.0,
            "water_budget_l_day": 2000.0, "max_run_s": 1200}
    r = client.post(f"{API}/zones", json=body)
    assert r.status_code == 201, r.text
    z = r.json()
    assert (z["soil_texture"], z["root_depth_m"], z["kc_monthly"][6]) == ("sand", 0.4, 0.9)
    r = client.patch(f"{API}/zones/estate-a/z9", json={"theta_fc": 0.14})
    assert r.status_code == 200 and r.json()["theta_fc"] == 0.14
    cal = {"kind": "two_point", "points": [[20.0, 0.05], [60.0, 0.15]]}
    r = client.post(f"{API}/devices", json={"site": "estate-a", "id": "soil-z9", "kind": "soil",
                                             "zone_id": "z9", "calibration": cal,
                                             "probe_weight": 0.8})
    assert r.status_code == 201, r.text
    assert r.json()["calibration"]["points"] == [[20.0, 0.05], [60.0, 0.15]]
    r = client.patch(f"{API}/devices/estate-a/soil-z9", json={"probe_faulty": True})
    assert r.status_code == 200 and r.json()["probe_faulty"] is True


def test_rows_convert_to_the_model(client: TestClient) -> None:
    client.post(f"{API}/zones", json={"site": "estate-a", "id": "z8", "soil_texture": "clay",
                                      "theta_wp": 0.2, "root_depth_m": 0.5, "mad_p": 0.5,
                                      "application_rate_mm_h": 4.0, "irrigation_kind": "drip"})
    client.post(f"{API}/devices", json={"site": "estate-a", "id": "p8", "kind": "soil",
                                        "zone_id": "z8", "calibration": {"kind": "soil"}})
    client.post(f"{API}/devices", json={"site": "estate-a", "id": "p8b", "kind": "soil",
                                        "zone_id": "z8"})
    zone = Zone(**client.get(f"{API}/zones/estate-a/z8").json())
    soil = zone_soil(zone)
    assert (soil.theta_fc, soil.theta_wp) == (0.36, 0.2)  # clay θFC, explicit θWP
    assert soil.taw_mm == pytest.approx(80.0) and soil.raw_mm == pytest.approx(40.0)
    hyd = zone_hydraulics(zone)
    assert hyd is not None and hyd.application_rate_mm_h == 4.0 and hyd.kind == "drip"
    devices = [Device(**{k: v for k, v in client.get(f"{API}/devices/estate-a/{d}").json().items()
                         if k in Device.__table__.columns}) for d in ("p8", "p8b")]
    table = CalibrationTable.build(probe_specs(devices, zone))
    theta, q = calibrate([50.0, 50.0], table)
    assert theta[0] == pytest.approx(0.475 * 0.5)  # clay porosity from the zone's texture
    assert q.tolist() == [ProbeQuality.OK, ProbeQuality.UNCALIBRATED]


@pytest.mark.parametrize(("body", "match"), [
    ({"soil_texture": "peat"}, "soil_texture"),
    ({"theta_fc": 0.1, "theta_wp": 0.2}, "theta_wp"),
    ({"kc_monthly": [0.8] * 11}, "kc_monthly"),
    ({"mad_p": 1.2}, "mad_p"),
    ({"efficiency": 0.0}, "efficiency"),
])
def test_api_refuses_bad_zone_soil_naming_the_field(client: TestClient, body: dict[str, object],
                                                    match: str) -> None:
    r = client.post(f"{API}/zones", json={"site": "estate-a", "id": "zbad", **body})
    assert r.status_code == 422
    assert match in r.text


def test_api_refuses_bad_calibration_and_clearing_defaults(client: TestClient) -> None:
    r = client.post(f"{API}/devices", json={"site": "estate-a", "id": "soil-x", "kind": "soil",
                                            "calibration": {"kind": "two_point"}})
    assert r.status_code == 422 and "points" in r.text
    r = client.patch(f"{API}/zones/estate-a/z1", json={"root_depth_m": None})
    assert r.status_code in (400, 422) and "root_depth_m" in r.text
    r = client.patch(f"{API}/zones/estate-a/z1", json={"theta_fc": 0.1, "theta_wp": 0.3})
    assert r.status_code in (400, 422) and "theta_wp" in r.text


def test_load_context_carries_water_fields_for_chosen_sites(tmp_path: Path) -> None:
    from greeniot.registry.context import load_context, seed

    url = f"sqlite:///{tmp_path / 'ctx.db'}"
    migrate(url)
    engine = engine_from_url(url)
    with session_factory(engine)() as session:
        seed(session, sites=[{"id": "s", "lat_deg": 22.3, "elevation_m": 30.0,
                              "tz": "Asia/Hong_Kong"}, {"id": "t"}],
             zones=[{"site": "s", "id": "z", "soil_texture": "clay",
                     "application_rate_mm_h": 12.0, "irrigation_kind": "rotor"}],
             devices=[{"site": "s", "id": "p", "kind": "soil", "zone_id": "z",
                       "calibration": {"kind": "soil"}, "probe_weight": 0.8}])
        ctx = load_context(session, sites=["s"])
    engine.dispose()
    (zone,) = ctx.zones
    assert (zone.theta_fc, zone.lat_deg, zone.utc_offset_h) == (0.36, 22.3, 8.0)
    assert zone.application_rate_mm_h == 12.0 and zone.irrigation_kind == "rotor"
    (probe,) = ctx.devices
    assert probe.calibration is not None and probe.calibration[1] == pytest.approx(0.475)
    assert probe.probe_weight == pytest.approx(0.8 * 0.25)  # per-soil calibration weight
