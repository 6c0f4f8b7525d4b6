"""Latest readings per device from the real InfluxDB (session fixture), through the store's
``InfluxClient``; points are written with plain HTTP line protocol, as ingest stores them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.api import create_app
from greeniot.api.isotime import iso_ms
from greeniot.config import InfluxSettings, Settings
from greeniot.registry.clock import wall_clock_ms
from greeniot.services import InfluxProcess
from greeniot.services.process import free_port
from greeniot.store.influx import InfluxClient
from tests.api.conftest import API, LoggedInClient

NOW = wall_clock_ms()
T = NOW - 600_000  # scenarios carry past timestamps: now()-bounded queries miss future points


@pytest.fixture
def influx_db(influxdb: InfluxProcess) -> Iterator[str]:
    db = f"api_{uuid.uuid4().hex[:10]}"
    r = httpx.post(f"{influxdb.url}/query", data={"q": f'CREATE DATABASE "{db}"'})
    r.raise_for_status()
    lines = "\n".join([
        f"soil,site=estate-a,device=soil-z1-1,zone=z1 vwc_pct=23.5,temp_c=17.9,bat_v=3.92,"
        f"seq=811i {T}",
        # the newest point has no bat_v: the latest *reading* is shown, not a mix of old fields
        f"soil,site=estate-a,device=soil-z1-1,zone=z1 vwc_pct=22.0,temp_c=18.1,seq=812i "
        f"{T + 60_000}",
        f"soil,site=estate-a,device=soil-z2-1,zone=z2 vwc_pct=41.0,seq=5i {T + 30_000}",
        f"tilt,site=estate-a,device=tilt-t1,tree=t1 pitch_deg=0.42,roll_deg=-0.11,seq=90i "
        f"{T + 10_000}",
        f"tilt,site=estate-a,device=tilt-t1,tree=t1 pitch_deg=0.45,roll_deg=-0.12,seq=91i "
        f"{T + 310_000}",
        f"weather,site=estate-a,device=wx-1 wind_ms=21.5,gust_ms=33.0,rain_mm=4.2,seq=7i "
        f"{T + 20_000}",
        f"soil,site=estate-b,device=soil-b-1,zone=z1 vwc_pct=30.0,seq=1i {T + 90_000}",
    ]) + "\n"
    r = httpx.post(f"{influxdb.url}/write", params={"db": db, "precision": "ms"},
                   content=lines.encode())
    assert r.status_code == 204, r.text
    yield db
    httpx.post(f"{influxdb.url}/query", data={"q": f'DROP DATABASE "{db}"'})


def _client(settings: Settings, influx: InfluxClient | None) -> TestClient:
    return LoggedInClient(create_app(settings, influx=influx), "viewer")


def test_latest_reading_per_device(api_settings: Settings, influxdb: InfluxProcess,
                                   influx_db: str, registry: sessionmaker[Session]) -> None:
    influx = InfluxClient(InfluxSettings(url=influxdb.url, database=influx_db))
    with _client(api_settings, influx) as c:
        try:
            r = c.get(f"{API}/sites/estate-a/latest")
            assert r.status_code == 200, r.text
            got = r.json()
            for reading in got["readings"]:  # the ISO twin of ts_ms (api/isotime.py)
                assert reading.pop("ts_iso") == iso_ms(reading["ts_ms"])
            assert got == {"site": "estate-a", "readings": [
                {"device": "soil-z1-1", "measurement": "soil", "ts_ms": T + 60_000,
                 "values": {"vwc_pct": 22.0, "temp_c": 18.1, "seq": 812},
                 "tags": {"site": "estate-a", "zone": "z1"}},
                {"device": "soil-z2-1", "measurement": "soil", "ts_ms": T + 30_000,
                 "values": {"vwc_pct": 41.0, "seq": 5},
                 "tags": {"site": "estate-a", "zone": "z2"}},
                {"device": "tilt-t1", "measurement": "tilt", "ts_ms": T + 310_000,
                 "values": {"pitch_deg": 0.45, "roll_deg": -0.12, "seq": 91},
                 "tags": {"site": "estate-a", "tree": "t1"}},
                {"device": "wx-1", "measurement": "weather", "ts_ms": T + 20_000,
                 "values": {"wind_ms": 21.5, "gust_ms": 33.0, "rain_mm": 4.2, "seq": 7},
                 "tags": {"site": "estate-a"}},
            ]}
            only_tilt = c.get(f"{API}/sites/estate-a/latest", params={"measurement": "tilt"})
            assert [x["device"] for x in only_tilt.json()["readings"]] == ["tilt-t1"]
            b = c.get(f"{API}/sites/estate-b/latest").json()["readings"]
            assert [(x["device"], x["values"]["vwc_pct"]) for x in b] == [("soil-b-1", 30.0)]
            assert c.get(f"{API}/sites/estate-c/latest").json()["readings"] == []
            r = c.get(f"{API}/sites/estate-a/latest", params={"measurement": "sway'"})
            assert r.status_code == 422 and "unknown measurement" in r.json()["detail"]
            # a site id that could break out of the InfluxQL quotes never reaches the query
            assert c.get(f"{API}/sites/x' OR 1=1 --/latest").status_code == 422
            health = c.get(f"{API}/health").json()
            assert (health["status"], health["influx"]) == ("ok", "ok")
        finally:
            c.portal.call(influx.aclose)  # type: ignore[union-attr]


def test_influx_down_is_502_and_unhealthy(api_settings: Settings,
                                          registry: sessionmaker[Session]) -> None:
    dead = InfluxClient(InfluxSettings(url=f"http://127.0.0.1:{free_port()}", database="x",
                                       timeout_s=2.0))
    with _client(api_settings, dead) as c:
        try:
            r = c.get(f"{API}/sites/estate-a/latest")
            assert r.status_code == 502 and r.json()["detail"].startswith(
                "InfluxDB query failed: InfluxDB at http://127.0.0.1:")
            r = c.get(f"{API}/health")
            assert r.status_code == 503
            assert (r.json()["status"], r.json()["db"]) == ("degraded", "ok")
            assert r.json()["influx"].startswith("error")
        finally:
            c.portal.call(dead.aclose)  # type: ignore[union-attr]


def test_without_influx_latest_is_503(api_settings: Settings,
                                      registry: sessionmaker[Session]) -> None:
    with _client(api_settings, None) as c:
        r = c.get(f"{API}/sites/estate-a/latest")
        assert r.status_code == 503
        assert r.json()["detail"] == "no InfluxDB client configured: readings are not available"
