"""A crew confirms a tilt sensor's re-mount through the API: the registry records it, the
context analytics reads at its refresh carries it, and the engine re-learns the baseline."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.registry.audit import list_entries
from greeniot.registry.context import load_context
from tests.api.conftest import API

T_MS = 1_795_510_000_000


def test_remount_confirmation_reaches_the_engine(client: TestClient,
                                                 registry: sessionmaker[Session]) -> None:
    with registry() as s:
        eng = AnalyticsEngine(load_context(s))
    eng.rows_for("tilt", "estate-a", ["tilt-t1"])
    row = eng.tilt.index.get("estate-a", "tilt-t1")
    assert row is not None
    assert eng.tilt.since[row] == 0
    r = client.post(f"{API}/devices/estate-a/tilt-t1/remount", json={"since_ms": T_MS})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["site"], got["device"], got["since_ms"]) == ("estate-a", "tilt-t1", T_MS)
    with registry() as s:
        ctx = load_context(s)
        entry = next(e for e in list_entries(s) if e.op == "remount_confirmed")
    (b,) = [d for d in ctx.devices if d.device == "tilt-t1"]
    assert b.remount_ms == T_MS
    assert entry.actor and entry.key == "estate-a/tilt-t1"
    # the analytics process's refresh: the baseline is forgotten and re-learned from then on
    eng.tilt.base.ok[row] = True
    eng.set_context(ctx)
    assert eng.tilt.since[row] == T_MS and not eng.tilt.base.ok[row]
    eng.tilt.base.ok[row] = True  # a later refresh with the same confirmation changes nothing
    eng.set_context(ctx)
    assert eng.tilt.base.ok[row]
    # a new engine (a restart) learns only from the confirmed time on
    fresh = AnalyticsEngine(ctx)
    fresh.rows_for("tilt", "estate-a", ["tilt-t1"])
    assert fresh.tilt.since[fresh.tilt.index.get("estate-a", "tilt-t1")] == T_MS


def test_remount_refuses_what_is_not_a_tilt_sensor(client: TestClient) -> None:
    r = client.post(f"{API}/devices/estate-a/valve-z1/remount", json={"since_ms": T_MS})
    assert r.status_code == 422 and "only tilt sensors" in r.json()["detail"]
    assert client.post(f"{API}/devices/estate-a/nope/remount",
                       json={"since_ms": T_MS}).status_code == 404
    assert client.post(f"{API}/devices/estate-a/tilt-t1/remount",
                       json={"since_ms": 5}).status_code == 422
