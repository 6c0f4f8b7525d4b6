"""API responses carry an ISO 8601 time (with zone) beside every epoch-ms field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from greeniot.api.app import create_app
from greeniot.api.isotime import with_iso_times
from greeniot.config import Settings
from greeniot.registry import crud
from greeniot.registry.context import seed
from greeniot.registry.db import make_engine, migrate, session_factory
from tests.api.conftest import add_users, auth_settings, issue

T_MS = 1_795_510_737_944  # 2026-11-24T08:58:57.944+00:00


def test_every_epoch_ms_field_gets_an_iso_twin() -> None:
    got = with_iso_times({"ts_ms": T_MS, "max_run_s": 900, "items": [{"due_ms": None,
                                                                     "created_ms": T_MS}],
                          "count_ms": 5})
    assert got["ts_iso"] == "2026-11-24T08:58:57.944+00:00"
    assert got["items"][0]["created_iso"] == got["ts_iso"] and "due_iso" not in got["items"][0]
    assert "count_iso" not in got  # 5 ms is a duration, not a time
    assert got["max_run_s"] == 900


def test_task_routes_answer_with_iso_times(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=auth_settings())
    tmp_path.mkdir(exist_ok=True)
    engine = make_engine(settings)
    migrate(engine)
    with session_factory(engine)() as s:
        seed(s, sites=[{"id": "a", "name": "A"}], zones=[], trees=[], devices=[])
        crud.ensure_task(s, site="a", kind="inspect", title="look", dedup_key="inspect:a:x",
                         now_ms=T_MS)
        s.commit()
    add_users(session_factory(engine))
    token = issue(session_factory(engine), "viewer")
    with TestClient(create_app(settings, engine=engine),
                    headers={"Authorization": f"Bearer {token}"}) as client:
        body = client.get("/api/v1/tasks").json()
    engine.dispose()
    items = body if isinstance(body, list) else body.get("items", body)
    task = items[0]
    assert task["created_ms"] == T_MS
    assert datetime.fromisoformat(task["created_iso"]).timestamp() * 1000 == T_MS
