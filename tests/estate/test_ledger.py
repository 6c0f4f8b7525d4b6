"""Ledger import/export and tree retirement through the API, the API process and the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.registry import crud, workflow
from greeniot.registry.models import Tree
from tests.estate.conftest import API, SAMPLE, SAMPLE_CSV, cli

#: close-out evidence (required by the workflow)
DONE = [{"kind": "text", "value": "done as noted"}]


def upload(client: TestClient, path: Path, **params: str) -> dict:
    fmt = "csv" if path.suffix == ".csv" else "geojson"
    r = client.post(f"{API}/ledger/import", params={"format": fmt, **params},
                    content=path.read_bytes())
    assert r.status_code == 200, r.text
    return r.json()


def test_sample_estate_imports_and_reimport_is_idempotent(client: TestClient,
                                                          sessions: sessionmaker[Session]
                                                          ) -> None:
    first = upload(client, SAMPLE)
    assert first["errors"] == []
    assert first["created"] == {"sites": 1, "zones": 2, "trees": 8, "devices": 4}
    with sessions() as s:
        t1 = crud.get_tree(s, site="lakeside", tree="lk-t01")
        assert (t1.crown_radius_m, t1.crown_shape, t1.height_m) == (5.0, "ellipsoid", 16.0)
        assert round(t1.lat, 4) == 31.2299 and round(t1.lon, 4) == 121.4700
        assert crud.get_site(s, site="lakeside").tz == "Asia/Shanghai"
        stamp = t1.updated_ms
    again = upload(client, SAMPLE)
    assert again["created"] == {} and again["updated"] == {} and again["errors"] == []
    assert again["unchanged"] == first["created"]
    with sessions() as s:
        assert crud.get_tree(s, site="lakeside", tree="lk-t01").updated_ms == stamp


def test_bad_rows_are_listed_with_number_and_reason_and_good_rows_imported(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    upload(client, SAMPLE)
    report = upload(client, SAMPLE_CSV, layer="trees")
    assert report["created"] == {"trees": 1} and report["updated"] == {"trees": 1}
    by_row = {e["row"]: e for e in report["errors"]}
    assert sorted(by_row) == [4, 5, 6]  # header is row 1
    assert by_row[4]["id"] == "lk-t10" and "height_m" in by_row[4]["reason"]
    assert "site 'unknown-site' is not in the registry" in by_row[5]["reason"]
    assert "heritage" in by_row[6]["reason"] and "crown_shape" in by_row[6]["reason"]
    with sessions() as s:
        assert crud.get_tree(s, site="lakeside", tree="lk-t05").height_m == 6.5
        assert crud.get_tree(s, site="lakeside", tree="lk-t09").species == "Acer palmatum"
        assert s.get(Tree, ("lakeside", "lk-t10")) is None


def test_unknown_columns_devices_bound_to_missing_trees_and_broken_files(
        client: TestClient) -> None:
    upload(client, SAMPLE)
    body = ("site,id,kind,tree_id,colour\n"
            "lakeside,d-ok,tilt,lk-t02,\n"
            "lakeside,d-bad,tilt,no-such-tree,\n"
            "lakeside,d-extra,tilt,lk-t02,red\n")
    r = client.post(f"{API}/ledger/import", params={"format": "csv", "layer": "devices"},
                    content=body)
    rep = r.json()
    assert rep["created"] == {"devices": 1}
    reasons = {e["row"]: e["reason"] for e in rep["errors"]}
    assert "tree 'no-such-tree' is not in the ledger" in reasons[3]
    assert reasons[4] == "colour: unknown column"
    r = client.post(f"{API}/ledger/import", params={"format": "geojson"}, content=b"[1, 2]")
    assert r.status_code == 422 and "FeatureCollection" in r.json()["detail"]
    r = client.post(f"{API}/ledger/import", params={"format": "csv"}, content=b"id\nx\n")
    assert r.status_code == 422 and "layer" in r.json()["detail"]


def test_geojson_export_carries_risk_inspection_open_tasks_and_round_trips(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    upload(client, SAMPLE)
    with sessions() as s:
        lean = crud.create_task(s, site="lakeside", kind="stabilize", title="lean", priority=1,
                                tree="lk-t01", now_ms=1_000)
        done = crud.create_task(s, site="lakeside", kind="inspect", title="look", tree="lk-t02",
                                now_ms=1_000)
        workflow.acknowledge_task(s, done.id, by="a", now_ms=2_000)
        workflow.assign_task(s, done.id, by="a", owner="wang", now_ms=3_000)
        workflow.start_task(s, done.id, by="wang", now_ms=4_000)
        workflow.close_task(s, done.id, by="wang", note="sound", evidence=DONE, now_ms=5_000)
        crud.ensure_alert(s, site="lakeside", kind="tilt", severity="warning", message="w",
                         ts_ms=6_000, tree="lk-t03", now_ms=6_000)[0]
    doc = client.get(f"{API}/ledger/export", params={"site": "lakeside"}).json()
    assert doc["type"] == "FeatureCollection"
    trees = {f["properties"]["id"]: f for f in doc["features"]
             if f["properties"]["layer"] == "trees"}
    assert trees["lk-t01"]["properties"]["risk"] == "high"
    assert [t["id"] for t in trees["lk-t01"]["properties"]["open_tasks"]] == [lean.id]
    assert trees["lk-t02"]["properties"]["last_inspection_ms"] == 5_000
    assert trees["lk-t02"]["properties"]["risk"] == "none"
    assert trees["lk-t03"]["properties"]["risk"] == "medium"
    assert trees["lk-t01"]["geometry"]["type"] == "Point"
    assert client.get(f"{API}/ledger/export", params={"site": "nowhere"}).json()[
        "features"] == []
    # The export imports back unchanged.
    back = client.post(f"{API}/ledger/import", params={"format": "geojson"},
                       content=json.dumps(doc)).json()
    assert back["errors"] == [] and back["created"] == {} and back["updated"] == {}
    text = client.get(f"{API}/ledger/export", params={"format": "csv", "layer": "trees"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["id"]: r["risk"] for r in rows}["lk-t01"] == "high"
    back = client.post(f"{API}/ledger/import", params={"format": "csv", "layer": "trees"},
                       content=text).json()
    assert back["errors"] == [] and back["updated"] == {} and back["unchanged"] == {"trees": 8}


def test_delete_retires_a_tree_keeping_history_and_replanting_records_the_successor(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    upload(client, SAMPLE)
    with sessions() as s:
        task = crud.create_task(s, site="lakeside", kind="remove", title="fell", tree="lk-t06")
    r = client.delete(f"{API}/trees/lakeside/lk-t06", params={"reason": "felled",
                                                              "note": "storm damage"})
    assert r.status_code == 200, r.text
    assert r.json()["retired_reason"] == "felled" and r.json()["retired_ms"] > 0
    assert client.get(f"{API}/trees/lakeside/lk-t06").status_code == 200  # still there
    assert client.get(f"{API}/tasks/{task.id}").json()["tree"] == "lk-t06"
    again = client.delete(f"{API}/trees/lakeside/lk-t06", params={"reason": "felled"})
    assert again.status_code == 409
    r = client.post(f"{API}/ledger/trees/lakeside/lk-t06/replant",
                    json={"site": "lakeside", "id": "lk-t06b", "species": "Ginkgo biloba",
                          "height_m": 3.0})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["predecessor_id"] == "lk-t06" and new["lat"] is not None  # planted in place
    assert client.get(f"{API}/trees/lakeside/lk-t06").json()["successor_id"] == "lk-t06b"
    r = client.post(f"{API}/ledger/trees/lakeside/lk-t07/retire",
                    json={"reason": "replaced", "date": "2026-11-30",
                          "successor": {"site": "lakeside", "id": "lk-t07b"}})
    assert r.status_code == 200, r.text
    assert r.json()["successor_id"] == "lk-t07b"
    # 2026-11-30 00:00 in Shanghai is 2026-11-29 16:00 UTC.
    assert r.json()["retired_ms"] == 1_795_968_000_000
    # The exported ledger shows both, and re-importing it keeps the retirement.
    back = client.post(f"{API}/ledger/import", params={"format": "geojson"},
                       content=client.get(f"{API}/ledger/export").content).json()
    assert back["errors"] == [] and back["updated"] == {}


@pytest.mark.services
def test_cli_import_export_and_the_api_process_upload(data_dir: Path,
                                                      api_process: httpx.Client,
                                                      tmp_path: Path) -> None:
    r = api_process.post("/ledger/import", params={"format": "geojson"},
                         content=SAMPLE.read_bytes())
    assert r.status_code == 200 and r.json()["created"]["trees"] == 8
    out = cli(data_dir, "ledger", "import", str(SAMPLE_CSV))
    assert out.returncode == 0, out.stderr
    assert "row 4 (trees lk-t10): height_m" in out.stdout
    assert "created: trees 1" in out.stdout and "rejected: 3" in out.stdout
    strict = cli(data_dir, "ledger", "import", str(SAMPLE_CSV), "--strict")
    assert strict.returncode == 2 and "unchanged: trees 2" in strict.stdout
    out = cli(data_dir, "ledger", "export", "--format", "csv", "--site", "lakeside")
    assert out.returncode == 0, out.stderr
    ids = [row["id"] for row in csv.DictReader(io.StringIO(out.stdout))]
    assert ids == sorted(ids) and "lk-t09" in ids and len(ids) == 9
    # The API process sees what the CLI wrote.
    assert api_process.get("/trees/lakeside/lk-t09").status_code == 200
    missing = cli(data_dir, "ledger", "import", str(tmp_path / "nope.geojson"))
    assert missing.returncode == 1 and "nope.geojson" in missing.stderr
