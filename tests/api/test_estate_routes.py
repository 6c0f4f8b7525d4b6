"""Sites, zones, the tree ledger and devices over HTTP; docs; health without InfluxDB."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.api import create_app
from greeniot.config import Settings
from greeniot.registry import accounts, crud
from greeniot.registry.db import make_engine, session_factory
from tests.api.conftest import API, auth_settings, token_for


def test_app_migrates_an_empty_data_folder_and_reports_health(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh", auth=auth_settings())
    with TestClient(create_app(settings)) as c:
        r = c.get(f"{API}/health")
        assert r.status_code == 200
        body = r.json()
        assert (body["status"], body["db"], body["influx"]) == ("ok", "ok", "not configured")
        assert c.get(f"{API}/sites").status_code == 401
        engine = make_engine(settings)
        with session_factory(engine)() as s:
            accounts.create_user(s, username="v", role="viewer", password="viewer-pass")
        engine.dispose()
        token = token_for(c, "v", "viewer-pass")
        assert c.get(f"{API}/sites", headers={"Authorization": f"Bearer {token}"}).json() == []
    assert (tmp_path / "fresh" / "registry.sqlite3").is_file()


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/trees", "/api/v1/tasks/{task_id}/close",
                 "/api/v1/valves/{site}/{device}/commands", "/api/v1/sites/{site}/latest"):
        assert path in spec["paths"], path


def test_sites(client: TestClient) -> None:
    assert [s["id"] for s in client.get(f"{API}/sites").json()] == ["estate-a"]
    r = client.post(f"{API}/sites", json={"id": "estate-b", "name": "B"})
    assert r.status_code == 201 and r.json()["name"] == "B"
    r = client.post(f"{API}/sites", json={"id": "estate-b"})
    assert r.status_code == 409 and r.json() == {"detail": "site 'estate-b' already exists"}
    assert client.patch(f"{API}/sites/estate-b", json={"name": "Estate B"}).json()["name"] == (
        "Estate B")
    r = client.get(f"{API}/sites/nowhere")
    assert r.status_code == 404 and r.json()["detail"] == "site 'nowhere' not found"
    assert client.post(f"{API}/sites", json={"id": "Bad Id"}).status_code == 422


def test_tree_ledger(client: TestClient, registry: sessionmaker[Session]) -> None:
    trees = client.get(f"{API}/trees", params={"site": "estate-a"}).json()
    assert [t["id"] for t in trees] == ["t1", "t2"]
    heritage = client.get(f"{API}/trees", params={"heritage": "true"}).json()
    assert [(t["id"], t["heritage_name"]) for t in heritage] == [("t1", "Old Banyan")]
    assert [t["id"] for t in client.get(f"{API}/trees", params={"heritage": "false"}).json()] == [
        "t2"]

    new = {"site": "estate-a", "id": "t3", "species": "Delonix regia", "height_m": 11.0,
           "dbh_cm": 45.0, "lat": 22.28, "lon": 114.16, "planted_year": 1987,
           "notes": "near playground"}
    r = client.post(f"{API}/trees", json=new)
    assert r.status_code == 201
    created = r.json()
    assert {k: created[k] for k in new} == new and created["heritage"] is False
    r = client.patch(f"{API}/trees/estate-a/t3", json={"heritage": True,
                                                       "heritage_name": "Flame of the Park"})
    assert r.status_code == 200 and r.json()["heritage"] is True
    assert r.json()["updated_ms"] >= created["updated_ms"]
    # the API wrote the same file the other process reads
    with registry() as s:
        assert crud.get_tree(s, site="estate-a", tree="t3").heritage_name == "Flame of the Park"

    assert client.post(f"{API}/trees", json=new).status_code == 409
    r = client.post(f"{API}/trees", json={"site": "estate-x", "id": "t1"})
    assert r.status_code == 422
    assert r.json()["detail"] == "site 'estate-x' is not in the registry: create it first"
    r = client.post(f"{API}/trees", json={"site": "estate-a", "id": "t4", "height_m": -1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "height_m"]
    assert client.get(f"{API}/trees/estate-a/t9").status_code == 404


def test_zones(client: TestClient) -> None:
    z1 = client.get(f"{API}/zones/estate-a/z1").json()
    assert (z1["refill_vwc_pct"], z1["max_run_s"], z1["rain_forecast_mm"]) == (18.0, 900, None)
    r = client.patch(f"{API}/zones/estate-a/z1", json={"rain_forecast_mm": 25.0,
                                                       "daily_max_s": 1800})
    assert (r.json()["rain_forecast_mm"], r.json()["daily_max_s"]) == (25.0, 1800)
    r = client.patch(f"{API}/zones/estate-a/z1", json={"saturation_vwc_pct": 10})
    assert r.status_code == 422 and "must be above refill_vwc_pct" in r.json()["detail"]
    r = client.post(f"{API}/zones", json={"site": "estate-a", "id": "z3", "refill_vwc_pct": 22})
    assert r.status_code == 201
    assert [z["id"] for z in client.get(f"{API}/zones", params={"site": "estate-a"}).json()] == [
        "z1", "z2", "z3"]


def test_devices_with_binding_and_last_seen(client: TestClient,
                                            registry: sessionmaker[Session]) -> None:
    with registry() as s:
        crud.record_device_status(s, site="estate-a", device="tilt-t1", status="online",
                                  ts_ms=1_795_510_000_000, fw="0.1.0", bat_v=3.91)
    d = client.get(f"{API}/devices/estate-a/tilt-t1").json()
    assert (d["kind"], d["tree_id"], d["zone_id"], d["status"], d["last_seen_ms"], d["fw"],
            d["bat_v"]) == ("tilt", "t1", None, "online", 1_795_510_000_000, "0.1.0", 3.91)
    listed = client.get(f"{API}/devices", params={"site": "estate-a", "kind": "valve"}).json()
    assert [x["id"] for x in listed] == ["valve-z1"]
    assert [x["id"] for x in client.get(f"{API}/devices", params={"zone": "z1"}).json()] == [
        "soil-z1-1", "valve-z1"]
    assert [x["id"] for x in client.get(f"{API}/devices",
                                        params={"status": "online"}).json()] == ["tilt-t1"]

    r = client.post(f"{API}/devices", json={"site": "estate-a", "id": "tilt-t2", "kind": "tilt",
                                            "tree_id": "t2"})
    assert r.status_code == 201 and r.json()["status"] == "unknown"
    r = client.post(f"{API}/devices", json={"site": "estate-a", "id": "tilt-t9", "kind": "tilt",
                                            "tree_id": "t9"})
    assert r.status_code == 422 and "tree 't9', which is not in the ledger" in r.json()["detail"]
    r = client.patch(f"{API}/devices/estate-a/tilt-t2", json={"tree_id": "t1"})
    assert r.json()["tree_id"] == "t1"
    assert client.post(f"{API}/devices", json={"site": "estate-a", "id": "x",
                                               "kind": "camera"}).status_code == 422
    assert client.get(f"{API}/devices/estate-a/ghost").status_code == 404
