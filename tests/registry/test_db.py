"""Engine, migrations and durability on real SQLite files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from greeniot.config import Settings
from greeniot.registry import crud, workflow
from greeniot.registry.db import (
    alembic_config,
    engine_from_url,
    make_engine,
    migrate,
    session_factory,
)
from greeniot.registry.models import Base
from tests.registry.conftest import T0

TABLES = {"sites", "zones", "trees", "devices", "tasks", "task_history", "alerts", "commands",
          "users", "auth_tokens", "audit_log", "task_photos"}  # 0001, 0002_accounts
TABLES |= {"alert_history", "roster", "alert_routes", "deliveries"}  # 0003_lifecycle
TABLES |= {"complaints", "calendar_rules", "calendar_occurrences", "work_records"}  # 0004
TABLES |= {"irrigation_decisions"}  # 0011_irrigation_decisions
TABLES |= {"sway_baselines"}  # 0013_sway_seasons


def test_migrations_apply_to_an_empty_file_and_are_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'r.sqlite3'}"
    migrate(url)
    migrate(url)  # a second start-up finds the schema current and does nothing
    engine = engine_from_url(url)
    try:
        assert TABLES | {"alembic_version"} == set(inspect(engine).get_table_names())
        heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
        with engine.connect() as conn:
            assert set(conn.scalars(text("SELECT version_num FROM alembic_version"))) == heads
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """A model change without a migration shows up here as a non-empty diff."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite connection pragmas; PostgreSQL needs none of them")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_make_engine_uses_the_settings_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    engine = make_engine(settings)
    try:
        migrate(engine)
        assert (tmp_path / "d" / "registry.sqlite3").is_file()
    finally:
        engine.dispose()


def test_restart_keeps_tasks_alerts_and_commands(db_url: str) -> None:
    migrate(db_url)
    first = engine_from_url(db_url)
    with session_factory(first)() as s:
        task = crud.ensure_task(s, site="estate-a", kind="inspect", title="inspect t9",
                                   tree="t9", dedup_key="lean:estate-a:t9", now_ms=T0)[0]
        workflow.acknowledge_task(s, task.id, by="ops", now_ms=T0 + 1)
        crud.ensure_alert(s, site="estate-a", kind="lean", severity="warning",
                         message="t9 leans", ts_ms=T0, dedup_key="lean:estate-a:t9",
                         task_id=task.id)[0]
        crud.create_command(s, site="estate-a", device="valve-z1", op="open", max_run_s=600,
                            reason="dry", deadline_ms=T0 + 60_000, command_id="c-1", now_ms=T0)
        task_id = task.id
    first.dispose()  # the process ends

    migrate(db_url)  # the next process starts
    second = engine_from_url(db_url)
    try:
        with session_factory(second)() as s:
            again = crud.get_task(s, task_id=task_id)
            assert again.state == "acknowledged"
            assert [(h.from_state, h.to_state) for h in again.history] == [
                (None, "open"), ("open", "acknowledged")]
            (alert,) = crud.list_alerts(s, site="estate-a")
            assert alert.task_id == task_id and not alert.acknowledged
            assert crud.get_command(s, command_id="c-1").state == "pending"
            # the dedup key survives the restart too
            same = crud.ensure_task(s, site="estate-a", kind="inspect", title="again",
                                       dedup_key="lean:estate-a:t9", now_ms=T0 + 5)[0]
            assert same.id == task_id
    finally:
        second.dispose()


def test_two_processes_opening_the_same_task_at_once_make_one(db_url: str) -> None:
    """Separate engines (as separate processes have) race on one dedup key: one task, no
    'database is locked' error."""
    migrate(db_url)
    engines = [engine_from_url(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    ids: list[int] = []
    errors: list[BaseException] = []

    def worker(engine: Engine, n: int) -> None:
        try:
            with session_factory(engine)() as s:
                barrier.wait()
                for i in range(20):
                    task = crud.ensure_task(
                        s, site="estate-a", kind="drain", title=f"drain z1 ({n}/{i})",
                        zone="z1", dedup_key="waterlog:estate-a:z1", now_ms=T0 + i)[0]
                    ids.append(task.id)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(e, n)) for n, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert errors == []
    assert len(ids) == 80 and len(set(ids)) == 1
    check = engine_from_url(db_url)
    try:
        with check.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM tasks")) == 1
    finally:
        check.dispose()


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    """ingest, analytics and api all call migrate() at start-up on the same new file (the
    race is short, so it is run on several fresh files)."""
    for n in range(8):
        url = f"sqlite:///{tmp_path / f'start-{n}.sqlite3'}"
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def start(url: str = url, errors: list[BaseException] = errors,
                  barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait()
                migrate(url)
            except BaseException as err:  # reported by the assertion below
                errors.append(err)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        engine = engine_from_url(url)
        try:
            assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        finally:
            engine.dispose()
