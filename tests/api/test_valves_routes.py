"""Valve commands over HTTP: checks against the registry, the commander call, the ack state."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.api import create_app
from greeniot.config import Settings
from greeniot.registry import crud
from tests.api.conftest import API, FakeCommander, password, token_for

OPEN = {"op": "open", "max_run_s": 600, "reason": "z1 below refill point"}


def test_open_command_is_recorded_sent_and_settled_by_the_ack(
        client: TestClient, commander: FakeCommander, registry: sessionmaker[Session]) -> None:
    r = client.post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN)
    assert r.status_code == 202, r.text
    cmd = r.json()
    assert commander.calls == [{"site": "estate-a", "device": "valve-z1", "op": "open",
                                "max_run_s": 600, "reason": "z1 below refill point",
                                "zone": "z1", "task_id": None}]
    assert cmd["id"].startswith("c-")
    assert (cmd["state"], cmd["zone"], cmd["max_run_s"], cmd["ack_ms"]) == ("sent", "z1", 600,
                                                                            None)

    with registry() as s:  # the node's ack, as the actions process records it
        crud.record_ack(s, command_id=cmd["id"], ok=True, ts_ms=cmd["sent_ms"] + 120,
                        state="open")
    got = client.get(f"{API}/commands/{cmd['id']}").json()
    assert (got["state"], got["valve_state"], got["ack_ms"]) == ("acked", "open",
                                                                 cmd["sent_ms"] + 120)
    listed = client.get(f"{API}/commands", params={"site": "estate-a", "state": "acked"}).json()
    assert [c["id"] for c in listed] == [cmd["id"]]
    assert client.get(f"{API}/commands", params={"state": "sent"}).json() == []


def test_close_command_and_task_link(client: TestClient, commander: FakeCommander,
                                     registry: sessionmaker[Session]) -> None:
    with registry() as s:
        task = crud.ensure_task(s, site="estate-a", kind="irrigate", title="water z1",
                                   zone="z1")[0]
    r = client.post(f"{API}/valves/estate-a/valve-z1/commands",
                    json={"op": "close", "reason": "rain started", "task_id": task.id})
    assert r.status_code == 202 and r.json()["task_id"] == task.id
    assert commander.calls[-1]["max_run_s"] is None


@pytest.mark.parametrize(("device", "body", "code", "detail"), [
    ("ghost", OPEN, 404, "device 'ghost' not found at site 'estate-a'"),
    ("soil-z1-1", OPEN, 409, "device 'soil-z1-1' at site 'estate-a' is a soil device, "
                             "not a valve"),
    ("valve-z1", OPEN | {"max_run_s": 1200}, 422,
     "max_run_s 1200 exceeds zone 'z1' max_run_s 900"),
    ("valve-z1", OPEN | {"zone": "z2"}, 422, "valve 'valve-z1' waters zone 'z1', not 'z2'"),
    ("valve-z1", OPEN | {"task_id": 999}, 422, "task 999 does not exist"),
])
def test_commands_refused_before_reaching_the_commander(
        client: TestClient, commander: FakeCommander, device: str, body: dict[str, object],
        code: int, detail: str) -> None:
    r = client.post(f"{API}/valves/estate-a/{device}/commands", json=body)
    assert (r.status_code, r.json()["detail"]) == (code, detail)
    assert commander.calls == []


@pytest.mark.parametrize("body", [
    {"op": "open", "reason": "dry"},  # no max_run_s
    {"op": "open", "max_run_s": 0, "reason": "dry"},
    {"op": "flush", "max_run_s": 60, "reason": "dry"},
    {"op": "open", "max_run_s": 60, "reason": " "},
])
def test_malformed_commands_are_422(client: TestClient, commander: FakeCommander,
                                    body: dict[str, object]) -> None:
    assert client.post(f"{API}/valves/estate-a/valve-z1/commands", json=body).status_code == 422
    assert commander.calls == []


def test_commander_failure_is_502_with_the_reason(client: TestClient,
                                                  commander: FakeCommander) -> None:
    commander.fail_with = RuntimeError("broker unreachable")
    r = client.post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN)
    assert r.status_code == 502 and r.json()["detail"] == "command not sent: broker unreachable"
    commander.fail_with = ValueError("invalid device id")
    r = client.post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN)
    assert r.status_code == 422 and r.json()["detail"] == "invalid device id"


def test_without_a_commander_commands_are_503(api_settings: Settings,
                                             registry: sessionmaker[Session]) -> None:
    del registry
    with TestClient(create_app(api_settings)) as c:
        token = token_for(c, "operator", password("operator"))
        r = c.post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN,
                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503
        assert r.json()["detail"] == "no valve commander configured: commands cannot be sent"
        assert c.get(f"{API}/commands", headers={"Authorization": f"Bearer {token}"}
                     ).json() == []  # reading still works


def test_unknown_command_is_404(client: TestClient) -> None:
    r = client.get(f"{API}/commands/c-nope")
    assert r.status_code == 404 and r.json() == {"detail": "command 'c-nope' not found"}


def test_anonymous_or_crew_valve_open_is_refused_and_nothing_is_sent(
        anon: TestClient, clients: dict[str, TestClient], commander: FakeCommander) -> None:
    r = anon.post(f"{API}/valves/estate-a/valve-z1/commands",
                  json=OPEN | {"max_run_s": 86_400})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = anon.post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN,
                  headers={"Authorization": "Bearer gs_made-up"})
    assert r.status_code == 401
    r = clients["crew"].post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN)
    assert r.status_code == 403 and "needs role 'operator'" in r.json()["detail"]
    assert commander.calls == []


def test_a_valve_command_is_in_the_audit_log_with_its_sender(
        clients: dict[str, TestClient]) -> None:
    r = clients["operator"].post(f"{API}/valves/estate-a/valve-z1/commands", json=OPEN)
    assert r.status_code == 202
    log = clients["admin"].get(f"{API}/audit", params={"entity": "commands"}).json()
    assert [(e["actor"], e["op"], e["key"], e["action"]) for e in log] == [
        ("operator", "valve_command", r.json()["id"],
         "POST /api/v1/valves/estate-a/valve-z1/commands")]
    assert log[0]["after"]["max_run_s"] == 600 and log[0]["before"] is None
