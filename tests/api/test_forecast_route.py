"""``POST /sites/{site}/forecast`` without a broker connection: the request is judged in full
(role, site, body, issue time) before the missing broker is named (the broker path is
tests/e2e/test_forecast_loop.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import API


def test_refusals_name_what_is_wrong(clients: dict[str, TestClient]) -> None:
    op = clients["operator"]
    r = op.post(f"{API}/sites/estate-a/forecast", json={"rain_today_mm": 6.0})
    assert r.status_code == 503 and "forecasts cannot be published" in r.text
    assert op.post(f"{API}/sites/nowhere/forecast", json={}).status_code == 404
    r = op.post(f"{API}/sites/estate-a/forecast", json={"temp_min_c": 5, "temp_max_c": 1})
    assert r.status_code == 422 and "temp_min_c (5.0) is above temp_max_c" in r.text
    r = op.post(f"{API}/sites/estate-a/forecast", json={"ts_ms": 4_000_000_000_000})
    assert r.status_code == 422 and "in the future" in r.text
    r = op.post(f"{API}/sites/estate-a/forecast", json={"snow_mm": 3})
    assert r.status_code == 422 and "snow_mm" in r.text
    assert clients["crew"].post(f"{API}/sites/estate-a/forecast", json={}).status_code == 403
