"""Alarm lifecycle, deliveries, alert routes and the roster through the API (TestClient on
the real SQLite registry; a dispatcher in the same test delivers to a local webhook)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.actions.lifecycle import alert_message
from greeniot.actions.sinks.dispatcher import AlertDispatcher
from greeniot.config import DeliverySettings
from greeniot.registry import accounts, crud
from greeniot.services import free_port
from tests.actions.receivers import MailBox, WebhookReceiver
from tests.api.conftest import API

T0 = 1_795_510_000_000
SECRET = "0123456789abcdef-hook"


def _alarm(registry: sessionmaker[Session], **kw: Any) -> str:
    with registry() as s:
        return crud.raise_alarm(s, **({
            "site": "estate-a", "kind": "lean", "severity": "warning", "message": "t2 leans",
            "ts_ms": T0, "tree": "t2", "dedup_key": "lean:estate-a:t2"} | kw)).alert.id


def test_alarm_walks_active_acknowledged_cleared_with_notes(
        client: TestClient, registry: sessionmaker[Session]) -> None:
    aid = _alarm(registry)
    _alarm(registry, severity="critical", ts_ms=T0 + 60_000, message="t2 leans more")
    assert [a["id"] for a in client.get(f"{API}/alerts", params={"state": "active"}).json()] == [
        aid]
    r = client.post(f"{API}/alerts/{aid}/acknowledge", json={"note": "crew sent"})
    assert (r.status_code, r.json()["state"]) == (200, "acknowledged")
    r = client.post(f"{API}/alerts/{aid}/clear", json={})
    assert r.status_code == 422  # a note is required
    r = client.post(f"{API}/alerts/{aid}/clear", json={"note": "re-staked"})
    assert r.status_code == 200
    body = r.json()
    assert (body["state"], body["cleared_by"], body["clear_note"], body["severity"],
            body["count"]) == ("cleared", "operator", "re-staked", "critical", 2)
    assert [(h["from_state"], h["to_state"], h["severity"], h["by"]) for h in body["history"]] == [
        (None, "active", "warning", "system"),
        ("active", "active", "critical", "system"),
        ("active", "acknowledged", "critical", "operator"),
        ("acknowledged", "cleared", "critical", "operator")]
    assert body["history"][2]["note"] == "crew sent"
    assert client.get(f"{API}/alerts/{aid}").json()["deliveries"] == []
    # the next occurrence is a new alarm
    again = _alarm(registry, ts_ms=T0 + 120_000)
    assert again != aid and client.get(f"{API}/alerts/{again}").json()["state"] == "active"
    r = client.post(f"{API}/alerts/a-nope/clear", json={"note": "x"})
    assert r.status_code == 404


def test_a_cleared_alarm_nobody_acknowledged_cannot_be_acknowledged(
        client: TestClient, registry: sessionmaker[Session]) -> None:
    aid = _alarm(registry)
    with registry() as s:
        crud.clear_condition(s, key="lean:estate-a:t2", ts_ms=T0 + 1, note="tilt back")
    r = client.post(f"{API}/alerts/{aid}/acknowledge", json={})
    assert r.status_code == 409 and "is cleared" in r.json()["detail"]


def test_alert_routes_hide_secrets_and_refuse_unusable_targets(client: TestClient) -> None:
    url = f"{API}/alert-routes"
    r = client.post(url, json={"name": "hook", "kind": "webhook",
                               "target": "https://ops.example.org/hook?token=abc"})
    assert r.status_code == 422 and "secret" in r.json()["detail"]
    r = client.post(url, json={"name": "x", "kind": "apprise", "target": "bogus://nothing"})
    assert r.status_code == 422 and "apprise cannot use this URL" in r.json()["detail"]
    r = client.post(url, json={"name": "hook", "kind": "webhook", "secret": SECRET,
                               "target": "https://ops.example.org/hook?token=abc",
                               "site": "estate-a", "min_severity": "critical"})
    assert r.status_code == 201
    assert r.json()["target"] == "https://ops.example.org/hook" and r.json()["has_secret"]
    assert SECRET not in r.text
    r = client.post(url, json={"name": "mail", "kind": "apprise",
                               "target": "mailtos://duty:hunter2pw@mail.example.org"
                                         "?to=duty@example.org", "rate_max": 3})
    assert r.status_code == 201 and "hunter2pw" not in r.text
    assert client.post(url, json={"name": "mail", "kind": "mqtt",
                                  "target": "mqtt"}).status_code == 409
    assert [x["name"] for x in client.get(url, params={"site": "estate-b"}).json()] == ["mail"]
    assert client.post(f"{url}/hook/disable").json()["enabled"] is False
    assert client.delete(f"{url}/hook").status_code == 204
    assert [x["name"] for x in client.get(url).json()] == ["mail"]
    assert client.delete(f"{url}/hook").status_code == 404


def test_roster_in_chain_order_names_a_new_tasks_first_responsible(
        client: TestClient, registry: sessionmaker[Session]) -> None:
    url = f"{API}/sites/estate-a/roster"
    for body in ({"name": "GreenCo", "role": "contractor",
                  "notify_url": "mailtos://gc:topsecret@mail.example.org"},
                 {"name": "Lee", "role": "crew", "contact": "+852 5555 0101"},
                 {"name": "LCSD", "role": "authority"}):
        assert client.post(url, json=body).status_code == 201
    assert client.post(url, json={"name": "Lee", "role": "crew"}).status_code == 409
    assert client.post(url, json={"name": "X", "role": "boss"}).status_code == 422
    assert client.post(f"{API}/sites/nowhere/roster",
                       json={"name": "X", "role": "crew"}).status_code == 404
    got = client.get(url).json()
    assert [(p["name"], p["role"]) for p in got] == [
        ("Lee", "crew"), ("GreenCo", "contractor"), ("LCSD", "authority")]
    assert "topsecret" not in str(got)
    r = client.post(f"{API}/tasks", json={"site": "estate-a",
                                          "kind": "inspect", "title": "branch over path",
                                          "tree": "t2"})
    assert (r.json()["owner"], r.json()["responsible"]) == ("Lee", "Lee")
    # the same tree, a related kind of work: the open task, not a second one
    r2 = client.post(f"{API}/tasks", json={"site": "estate-a",
                                           "kind": "stabilize", "title": "stake t2",
                                           "tree": "t2", "priority": 2})
    assert r2.status_code == 200 and r2.json()["id"] == r.json()["id"]
    assert (r2.json()["kind"], r2.json()["priority"]) == ("stabilize", 2)
    assert client.post(f"{url}/Lee/deactivate").json()["active"] is False


def test_alert_detail_shows_each_delivery_failed_then_delivered(
        client: TestClient, registry: sessionmaker[Session]) -> None:
    port = free_port()
    client.post(f"{API}/alert-routes", json={"name": "ops", "kind": "webhook", "secret": SECRET,
                                             "target": f"http://127.0.0.1:{port}/hook"})
    box = MailBox(free_port()).start()
    client.post(f"{API}/alert-routes", json={"name": "mail", "kind": "apprise",
                                             "target": box.url("duty@example.org")})
    aid = _alarm(registry)
    hook = WebhookReceiver(SECRET, port)
    fast = DeliverySettings(backoff_base_s=0.05, backoff_cap_s=0.1, max_attempts=100)

    def states() -> dict[str, str]:
        return {d["recipient"]: d["state"]
                for d in client.get(f"{API}/alerts/{aid}").json()["deliveries"]}

    async def main() -> None:
        with registry() as s:
            msg = alert_message(crud.get_alert(s, alert_id=aid))
        async with AlertDispatcher(registry, fast) as dispatcher:
            dispatcher.submit(msg)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while states() != {"route:ops": "failed", "route:mail": "delivered"}:
                assert loop.time() < deadline, states()
                await asyncio.sleep(0.05)
            hook.start()
            while states().get("route:ops") != "delivered":
                assert loop.time() < deadline, states()
                await asyncio.sleep(0.05)

    try:
        asyncio.run(main())
    finally:
        hook.stop()
        box.stop()
    (ops,) = [d for d in client.get(f"{API}/alerts/{aid}/deliveries").json()
              if d["recipient"] == "route:ops"]
    assert ops["attempts"] >= 2 and ops["log"][0]["ok"] is False and ops["log"][-1]["ok"]
    assert "target" not in ops and "secret" not in ops
    assert len(hook.got) == 1 and hook.got[0].verified
    assert [d["id"] for d in client.get(f"{API}/deliveries",
                                        params={"state": "delivered"}).json()] != []


def test_clearing_or_reading_another_sites_alarm_is_refused(
        clients: dict[str, TestClient], registry: sessionmaker[Session]) -> None:
    with registry() as s:
        accounts.update_user(s, username="crew", sites=["estate-a"])
        other = crud.ensure_alert(s, site="estate-b", kind="lean", severity="critical",
                                 message="t9 leans", ts_ms=1, tree="t9")[0].id
    crew = clients["crew"]
    r = crew.post(f"{API}/alerts/{other}/clear", json={"note": "not mine to clear"})
    assert r.status_code == 403 and "estate-b" in r.json()["detail"]
    assert crew.get(f"{API}/alerts/{other}/deliveries").status_code == 403
    with registry() as s:
        assert crud.get_alert(s, alert_id=other).state == "active"


def test_routes_and_roster_people_say_which_language_and_zone_they_read(
        client: TestClient) -> None:
    url = f"{API}/alert-routes"
    r = client.post(url, json={"name": "desk", "kind": "mqtt", "target": "mqtt",
                               "locale": "en", "tz": "Europe/London"})
    assert r.status_code == 201 and (r.json()["locale"], r.json()["tz"]) == (
        "en", "Europe/London")
    r = client.post(url, json={"name": "x", "kind": "mqtt", "target": "mqtt", "locale": "fr"})
    assert r.status_code == 422 and "locale" in r.text
    r = client.post(url, json={"name": "x", "kind": "mqtt", "target": "mqtt",
                               "tz": "Mars/Olympus"})
    assert r.status_code == 422 and "'Mars/Olympus' is not an IANA zone name" in r.text
    r = client.post(f"{API}/sites/estate-a/roster", json={"name": "Wang", "role": "crew",
                                                          "locale": "zh_Hans"})
    assert r.status_code == 201 and (r.json()["locale"], r.json()["tz"]) == ("zh_Hans", None)


def test_a_time_zone_folder_is_refused_not_a_server_error(
        clients: dict[str, TestClient]) -> None:
    """``ZoneInfo("America")`` raises IsADirectoryError, not ZoneInfoNotFoundError."""
    client = clients["admin"]
    r = client.post(f"{API}/alert-routes", json={"name": "x", "kind": "mqtt", "target": "mqtt",
                                                  "tz": "America"})
    assert r.status_code == 422 and "'America' is not an IANA zone name" in r.text
    r = client.post(f"{API}/users", json={"username": "tzfolder", "role": "viewer",
                                          "password": "long-enough-pw", "tz": "Asia"})
    assert r.status_code == 422, r.text
    r = client.post(f"{API}/sites", json={"id": "tz-folder", "tz": "Europe"})
    assert r.status_code == 422, r.text
