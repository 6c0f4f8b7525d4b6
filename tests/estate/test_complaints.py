"""Hotline complaints: task opened for the site's first responsible person, duplicates join,
the reporter's contact kept out of default answers, replies recorded, hotspots (API and CLI)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.registry import crud, workflow
from greeniot.registry.complaints import DEFAULT_REPLY_MS
from tests.estate.conftest import API, SAMPLE, cli

#: close-out evidence (required by the workflow)
DONE = [{"kind": "text", "value": "done as noted"}]


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def load(client: TestClient) -> None:
    r = client.post(f"{API}/ledger/import", params={"format": "geojson"},
                    content=SAMPLE.read_bytes())
    assert r.json()["errors"] == []


def with_responsible(sessions: sessionmaker[Session], site: str, person: str,
                     contractor: str) -> None:
    """A task assigned at ``site`` names its first responsible person (until the roster)."""
    with sessions() as s:
        t = crud.create_task(s, site=site, kind="inspect", title="round")
        t.contractor = contractor
        workflow.acknowledge_task(s, t.id, by="lead")
        workflow.assign_task(s, t.id, by="lead", owner=person)


def test_complaint_opens_a_task_for_the_first_responsible_person_and_duplicates_join(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    load(client)
    with_responsible(sessions, "lakeside", "Zhang Wei", "GreenCo")
    body = {"site": "lakeside", "channel": "hotline_12345", "category": "leaning_or_fallen",
            "tree": "lk-t01", "text": "the camphor by block 3 leans over the path",
            "reporter_name": "Ms Liu", "reporter_phone": "13800000000",
            "received_ms": ms("2026-11-20T09:00:00+08:00")}
    r = client.post(f"{API}/complaints", json=body)
    assert r.status_code == 201, r.text
    first = r.json()
    assert "reporter_phone" not in first and "reporter_name" not in first
    assert first["ticket"] == "GC-20261120-0001" and first["joined"] is False
    assert first["reply_due_ms"] == body["received_ms"] + DEFAULT_REPLY_MS
    task = client.get(f"{API}/tasks/{first['task_id']}").json()
    assert (task["kind"], task["priority"], task["tree"]) == ("inspect", 1, "lk-t01")
    assert task["state"] == "assigned" and task["owner"] == "Zhang Wei"
    with sessions() as s:
        assert crud.get_task(s, task_id=task["id"]).contractor == "GreenCo"
    # A second resident, another channel, same tree: joins the open task.
    second = client.post(f"{API}/complaints", json={
        **body, "channel": "app", "category": "blocked_light", "reporter_phone": "139"}).json()
    assert second["task_id"] == first["task_id"] and second["joined"] is True
    assert second["ticket"] == "GC-20261120-0002"
    history = client.get(f"{API}/tasks/{first['task_id']}").json()["history"]
    assert any(first["ticket"] in h["note"] for h in history)
    assert any("joined" in h["note"] and second["ticket"] in h["note"] for h in history)
    listed = client.get(f"{API}/complaints", params={"site": "lakeside"}).json()
    assert [c["ticket"] for c in listed] == [first["ticket"], second["ticket"]]
    assert all("reporter_phone" not in c for c in listed)
    contact = client.get(f"{API}/complaints/{first['ticket']}/contact").json()
    assert contact == {"ticket": first["ticket"], "reporter_name": "Ms Liu",
                       "reporter_phone": "13800000000"}
    # The hotline resending its ticket changes nothing.
    again = client.post(f"{API}/complaints", json={**body, "ticket": first["ticket"]})
    assert again.status_code == 200 and again.json()["task_id"] == first["task_id"]
    # Once the task is closed, a new complaint about the tree opens a new task.
    with sessions() as s:
        workflow.start_task(s, first["task_id"], by="Zhang Wei")
        workflow.close_task(s, first["task_id"], by="Zhang Wei", note="staked", evidence=DONE)
    third = client.post(f"{API}/complaints", json=body).json()
    assert third["task_id"] != first["task_id"] and third["joined"] is False


def test_reply_is_recorded_with_its_time_once(client: TestClient) -> None:
    load(client)
    c = client.post(f"{API}/complaints", json={
        "site": "lakeside", "channel": "walk_in", "category": "irrigation_leak",
        "location": "Block 5 north lawn", "text": "sprinkler leaking"}).json()
    task = client.get(f"{API}/tasks/{c['task_id']}").json()
    assert task["state"] == "open"  # no responsible person known at this site yet
    assert (task["kind"], task["priority"]) == ("service", 2)
    r = client.post(f"{API}/complaints/{c['ticket']}/reply",
                    json={"by": "hotline desk", "text": "crew booked for tomorrow"})
    assert r.status_code == 200
    assert r.json()["reply_ms"] >= c["received_ms"]
    assert r.json()["replied_by"] == "hotline desk"
    assert client.post(f"{API}/complaints/{c['ticket']}/reply",
                       json={"by": "x", "text": "again"}).status_code == 409
    assert client.get(f"{API}/complaints", params={"unanswered": True}).json() == []
    bad = client.post(f"{API}/complaints", json={"site": "lakeside", "channel": "fax",
                                                 "category": "other", "location": "x"})
    assert bad.status_code == 422 and "channel" in bad.text
    nowhere = client.post(f"{API}/complaints", json={"site": "lakeside", "channel": "app",
                                                     "category": "other"})
    assert nowhere.status_code == 422 and "needs a tree" in nowhere.text
    unknown_tree = client.post(f"{API}/complaints", json={
        "site": "lakeside", "channel": "app", "category": "other", "tree": "no-such"})
    assert unknown_tree.status_code == 404


def test_hotspots_per_compound_category_month_top_and_repeats(client: TestClient,
                                                              data_dir: Path) -> None:
    load(client)
    client.post(f"{API}/sites", json={"id": "hillside", "tz": "Asia/Shanghai"})
    filed = [
        ("lakeside", "pests", {"tree": "lk-t02"}, "2026-10-03T10:00:00+08:00"),
        ("lakeside", "pests", {"tree": "lk-t02"}, "2026-10-20T10:00:00+08:00"),
        ("lakeside", "overgrown", {"location": "Block 3  gate"}, "2026-11-01T00:30:00+08:00"),
        ("lakeside", "overgrown", {"location": "block 3 gate"}, "2026-11-15T12:00:00+08:00"),
        ("lakeside", "other", {"lat": 31.2301, "lon": 121.4702}, "2026-11-16T12:00:00+08:00"),
        ("hillside", "green_damaged", {"location": "playground"}, "2026-11-02T09:00:00+08:00"),
    ]
    for site, category, where, when in filed:
        r = client.post(f"{API}/complaints", json={"site": site, "channel": "hotline_12345",
                                                   "category": category, **where,
                                                   "received_ms": ms(when)})
        assert r.status_code == 201, r.text
    rep = client.get(f"{API}/complaints/hotspots").json()
    cells = {(c["site"], c["category"], c["month"]): c["count"] for c in rep["by_month"]}
    # 00:30 on Nov 1 in Shanghai is still October in UTC: counted in the local month.
    assert cells == {("lakeside", "pests", "2026-10"): 2,
                     ("lakeside", "overgrown", "2026-11"): 2,
                     ("lakeside", "other", "2026-11"): 1,
                     ("hillside", "green_damaged", "2026-11"): 1}
    assert rep["top_sites"] == [{"site": "lakeside", "count": 5},
                                {"site": "hillside", "count": 1}]
    repeats = {r["location_key"]: r["count"] for r in rep["repeats"]}
    assert repeats == {"tree:lk-t02": 2, "place:block 3 gate": 2}
    since = client.get(f"{API}/complaints/hotspots",
                       params={"since_ms": ms("2026-11-01T00:00:00+08:00")}).json()
    assert since["top_sites"][0] == {"site": "lakeside", "count": 3}
    page = client.get(f"{API}/complaints/hotspots", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "<td>place:block 3 gate</td><td>2</td>" in page.text
    out = cli(data_dir, "complaints", "hotspots")
    assert out.returncode == 0, out.stderr
    assert "lakeside         pests              2026-10      2" in out.stdout
    assert "tree:lk-t02" in out.stdout and "place:block 3 gate" in out.stdout
    filed_cli = cli(data_dir, "complaints", "file", "--site", "lakeside", "--category",
                    "pests", "--tree", "lk-t02", "--channel", "app")
    assert filed_cli.returncode == 0, filed_cli.stderr
    assert "joined task" in filed_cli.stdout
