"""Migration 0003_lifecycle on a registry that already holds alerts and tasks."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from greeniot.registry import crud
from greeniot.registry.db import engine_from_url, migrate, session_factory
from tests.registry.conftest import T0


def test_upgrade_keeps_alerts_and_tasks_and_maps_acknowledged_to_the_state(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate(url, revision="0001")
    engine = engine_from_url(url)
    try:
        with engine.begin() as conn:
            for i, acked in ((1, True), (2, False)):
                conn.execute(text(
                    "INSERT INTO alerts (id, site, ts_ms, last_ts_ms, count, kind, severity, "
                    "message, acknowledged, dedup_key, created_ms) VALUES (:id, 'estate-a', "
                    ":t, :t, 1, 'lean', 'warning', 'old', :acked, :key, :t)"),
                    {"id": f"a-old{i}", "t": T0, "acked": acked, "key": f"lean:estate-a:t{i}"})
            conn.execute(text(
                "INSERT INTO tasks (site, kind, priority, heritage, title, reason, state, "
                "created_by, created_ms, updated_ms, evidence) VALUES ('estate-a', 'inspect', "
                "3, 0, 'inspect t1', '', 'open', 'system', :t, :t, '[]')"), {"t": T0})
        migrate(url)
        with session_factory(engine)() as s:
            states = {a.id: a.state for a in crud.list_alerts(s)}
            assert states == {"a-old1": "acknowledged", "a-old2": "active"}
            (task,) = crud.list_tasks(s)
            assert (task.escalation_level, task.work_key, task.responsible) == (0, None, None)
            # the old unacknowledged alarm still holds its key: a repeat folds into it
            again, created = crud.ensure_alert(s, site="estate-a", kind="lean",
                                               severity="warning", message="again", ts_ms=T0 + 1,
                                               dedup_key="lean:estate-a:t2")
            assert not created and again.id == "a-old2"
    finally:
        engine.dispose()
