"""Tasks and alerts over HTTP: working order, lifecycle, error statuses with clear messages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.registry import crud
from tests.api.conftest import API
from tests.api.photos import png_bytes

T0 = 1_700_000_000_000  # Nov 2023: every SLA has run out by now


def _task(registry: sessionmaker[Session], **kw: Any) -> int:
    """A task opened the way actions does it: crud in another process, with event time."""
    fields: dict[str, Any] = {"site": "estate-a", "kind": "inspect", "title": "inspect",
                              "priority": 3, "now_ms": T0}
    with registry() as s:
        return crud.ensure_task(s, **(fields | kw))[0].id


def test_open_by_hand_with_dedup(client: TestClient) -> None:
    body = {"site": "estate-a", "kind": "inspect", "title": "resident reports cracked branch",
            "tree": "t2", "priority": 2, "dedup_key": "complaint:estate-a:t2"}
    r = client.post(f"{API}/tasks", json=body)
    assert r.status_code == 201
    task = r.json()
    # The creator is the caller's account, never a field of the body.
    assert (task["state"], task["created_by"], task["heritage"]) == ("open", "operator", False)
    assert task["history"] == [{"ts_ms": task["created_ms"], "ts_iso": task["created_iso"],
                                "by": "operator", "from_state": None, "to_state": "open",
                                "note": ""}]
    again = client.post(f"{API}/tasks", json=body | {"title": "second call"})
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    assert again.json()["title"] == "resident reports cracked branch"
    r = client.post(f"{API}/tasks", json=body | {"kind": "paint"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]
    r = client.post(f"{API}/tasks", json=body | {"by": "hotline"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "by"]


def test_list_in_working_order_and_filters(client: TestClient,
                                           registry: sessionmaker[Session]) -> None:
    old_p3 = _task(registry, priority=3, now_ms=T0 - 1000)
    p2_t2 = _task(registry, priority=2, tree="t2", now_ms=T0)
    p2_heritage = _task(registry, priority=2, tree="t1", now_ms=T0 + 1)  # t1: heritage
    drain = _task(registry, priority=1, kind="drain", zone="z1", now_ms=T0 + 2)
    other_site = _task(registry, site="estate-b", priority=1, now_ms=T0 + 3)

    def ids(**params: Any) -> list[int]:
        r = client.get(f"{API}/tasks", params=params)
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()]

    assert ids() == [drain, other_site, p2_heritage, p2_t2, old_p3]
    assert ids(site="estate-a", priority=2) == [p2_heritage, p2_t2]
    assert ids(kind="drain") == [drain]
    client.post(f"{API}/tasks/{drain}/acknowledge", json={})
    assert ids(state=["acknowledged"]) == [drain]
    assert ids(state=["open", "acknowledged"], site="estate-a") == [drain, p2_heritage, p2_t2,
                                                                    old_p3]
    # all of them are overdue by the SLA of their priority
    assert ids(overdue="true", site="estate-a", limit=2) == [drain, p2_heritage]
    assert client.get(f"{API}/tasks", params={"state": "done"}).status_code == 422


def test_lifecycle_over_http(clients: dict[str, TestClient],
                             registry: sessionmaker[Session]) -> None:
    ops, crew = clients["operator"], clients["crew"]
    tid = _task(registry, kind="stabilize", tree="t1", priority=1,
                source_event={"kind": "lean_step", "value": 0.9, "unit": "deg"})
    url = f"{API}/tasks/{tid}"
    assert ops.post(f"{url}/acknowledge", json={"note": "on it"}).json()[
        "state"] == "acknowledged"
    r = ops.post(f"{url}/assign", json={"owner": "Chan Tai Man", "assignee": "crew"})
    assert (r.json()["owner"], r.json()["assignee"]) == ("Chan Tai Man", "crew")
    assert crew.post(f"{url}/start", json={}).json()["state"] == "in_progress"
    photo = crew.post(f"{url}/photos", files={"file": ("after.png", png_bytes(), "image/png")})
    assert photo.status_code == 201, photo.text
    r = crew.post(f"{url}/close", json={"note": "straightened, two stakes, guying checked",
        "evidence": [{"kind": "photo", "value": photo.json()["id"]},
                     {"kind": "url", "value": "s3://evidence/t1-after.jpg"},
                     {"kind": "text", "value": "root plate intact"}]})
    assert r.status_code == 200
    done = r.json()
    assert done["state"] == "closed" and done["heritage"] is True
    assert done["evidence"] == [{"kind": "photo", "value": photo.json()["id"], "ts_ms": None},
                                {"kind": "url", "value": "s3://evidence/t1-after.jpg",
                                 "ts_ms": None},
                                {"kind": "text", "value": "root plate intact", "ts_ms": None}]
    assert done["source_event"] == {"kind": "lean_step", "value": 0.9, "unit": "deg"}
    got = crew.get(url).json()
    # Who did each step comes from each caller's credential.
    assert [(h["from_state"], h["to_state"], h["by"]) for h in got["history"]] == [
        (None, "open", "system"),
        ("open", "acknowledged", "operator"),
        ("acknowledged", "assigned", "operator"),
        ("assigned", "in_progress", "crew"),
        ("in_progress", "closed", "crew"),
    ]
    assert got["history"][1]["note"] == "on it"


def test_invalid_step_is_409_naming_from_to_and_allowed(client: TestClient,
                                                        registry: sessionmaker[Session]) -> None:
    tid = _task(registry)
    r = client.post(f"{API}/tasks/{tid}/close", json={
        "note": "done", "evidence": [{"kind": "text", "value": "staked"}]})
    assert r.status_code == 409
    assert r.json() == {
        "detail": f"task {tid}: cannot go from 'open' to 'closed' "
                  "(allowed from 'open': acknowledged, cancelled)",
        "from": "open", "to": "closed", "allowed": ["acknowledged", "cancelled"],
    }
    client.post(f"{API}/tasks/{tid}/cancel", json={"note": "duplicate call"})
    r = client.post(f"{API}/tasks/{tid}/acknowledge", json={})
    assert r.status_code == 409 and r.json()["allowed"] == []
    assert "none: the task is finished" in r.json()["detail"]


@pytest.mark.parametrize(("body", "expected"), [
    ({"note": "  "}, "a close note (what was done) is required"),
    ({"note": "done"}, None),  # no evidence
    ({"note": "done", "evidence": [{"kind": "video", "value": "x"}]}, None),
    ({"by": "crew", "note": "done"}, None),  # ``by`` is gone: the caller is the actor
    ({}, None),
])
def test_close_without_note_or_with_bad_evidence_is_422(
        client: TestClient, registry: sessionmaker[Session], body: dict[str, Any],
        expected: str | None) -> None:
    tid = _task(registry)
    for step, b in (("acknowledge", {}), ("assign", {"owner": "Chan"}), ("start", {})):
        assert client.post(f"{API}/tasks/{tid}/{step}", json=b).status_code == 200
    r = client.post(f"{API}/tasks/{tid}/close", json=body)
    assert r.status_code == 422
    if expected is not None:
        assert r.json()["detail"] == f"task {tid}: {expected} and must not be empty"
    assert client.get(f"{API}/tasks/{tid}").json()["state"] == "in_progress"


def test_assign_needs_an_owner_and_unknown_task_is_404(client: TestClient,
                                                       registry: sessionmaker[Session]) -> None:
    tid = _task(registry)
    client.post(f"{API}/tasks/{tid}/acknowledge", json={})
    r = client.post(f"{API}/tasks/{tid}/assign", json={"assignee": "crew"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "owner"]
    r = client.get(f"{API}/tasks/4242")
    assert r.status_code == 404 and r.json() == {"detail": "task 4242 not found"}
    assert client.post(f"{API}/tasks/4242/start", json={}).status_code == 404


def test_alerts_list_and_acknowledge(client: TestClient, registry: sessionmaker[Session]) -> None:
    with registry() as s:
        lean = crud.ensure_alert(s, site="estate-a", kind="lean", severity="critical",
                                message="t1 leans 1.9°", ts_ms=T0, tree="t1", value=1.9,
                                dedup_key="lean:estate-a:t1")[0]
        crud.ensure_alert(s, site="estate-a", kind="lean", severity="critical",
                         message="t1 leans 2.0°", ts_ms=T0 + 60_000, tree="t1", value=2.0,
                         dedup_key="lean:estate-a:t1")[0]
        low = crud.ensure_alert(s, site="estate-a", kind="low_battery", severity="info",
                               message="soil-z1-1 at 3.3 V", ts_ms=T0 + 5, device="soil-z1-1")[0]
        crud.ensure_alert(s, site="estate-b", kind="storm", severity="warning",
                         message="gusts 30 m/s", ts_ms=T0 + 7)[0]

    alerts = client.get(f"{API}/alerts", params={"site": "estate-a"}).json()
    assert [a["id"] for a in alerts] == [lean.id, low.id]
    assert (alerts[0]["count"], alerts[0]["value"], alerts[0]["message"]) == (2, 2.0,
                                                                             "t1 leans 2.0°")
    assert [a["id"] for a in client.get(f"{API}/alerts",
                                        params={"severity": "info"}).json()] == [low.id]
    r = client.post(f"{API}/alerts/{lean.id}/acknowledge", json={})
    assert r.status_code == 200 and (r.json()["acknowledged"], r.json()["ack_by"]) == (True,
                                                                                       "operator")
    unacked = client.get(f"{API}/alerts", params={"acknowledged": "false",
                                                  "site": "estate-a"}).json()
    assert [a["id"] for a in unacked] == [low.id]
    assert client.get(f"{API}/alerts/{low.id}").json()["device"] == "soil-z1-1"
    assert client.post(f"{API}/alerts/a-none/acknowledge", json={}).status_code == 404
    assert client.get(f"{API}/alerts", params={"severity": "fatal"}).status_code == 422
