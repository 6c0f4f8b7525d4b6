"""Engine, sessions and migrations for the registry; built from Settings, never at import.

SQLite is the default and several processes (ingest, analytics, api) write to the same file, so
every SQLite connection gets, through a ``connect`` event:

- ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers;
- ``busy_timeout``: a writer waits for the lock instead of failing at once with
  "database is locked";
- ``foreign_keys=ON``: SQLite ignores foreign keys unless asked per connection.

and every transaction starts with ``BEGIN IMMEDIATE``. A deferred transaction that reads first
and writes later fails with ``SQLITE_BUSY`` *without* waiting for ``busy_timeout`` when another
connection committed in between (its read snapshot is stale); taking the write lock at BEGIN
makes the busy timeout apply to every writer. Readers in WAL mode are not blocked by it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url, pool
from sqlalchemy.engine import URL

from greeniot.config import Settings
from greeniot.reachable import registry_dependency, retry_until_reachable

if TYPE_CHECKING:  # alembic and the ORM load on use: ingest needs neither (ingest/run.py)
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

#: How long a SQLite writer waits for another process's write lock before giving up [ms].
DEFAULT_BUSY_TIMEOUT_MS = 10_000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _ensure_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Switch the file to WAL (persistent, so normally a no-op read).

    Switching needs an exclusive lock and SQLite answers "database is locked" at once, without
    its busy handler, while another process holds a lock on a new file, as when every process
    starts and migrates together: retry until the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module so that we can emit BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            _ensure_wal(cursor, busy_timeout_ms)
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def engine_from_url(url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                    echo: bool = False) -> Engine:
    """An engine for ``url``; for a SQLite file, creates its folder and sets WAL + busy timeout."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if _is_sqlite(parsed):
        # Sessions may be used from FastAPI's worker threads (one thread at a time).
        kwargs["connect_args"] = {"check_same_thread": False}
        if _sqlite_in_memory(parsed):
            kwargs["poolclass"] = pool.StaticPool  # one shared connection, or each sees nothing
        else:
            Path(str(parsed.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, **kwargs)
    if _is_sqlite(parsed):
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


def make_engine(settings: Settings, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """The registry engine for ``settings.database_url`` (``GREENIOT_DB_URL`` or data folder)."""
    return engine_from_url(settings.database_url, busy_timeout_ms=busy_timeout_ms)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit (the API returns them)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def migrate(url: str | URL | Engine, *, revision: str = "heads") -> None:
    """Bring the schema at ``url`` (or on ``engine``) up to ``revision``; idempotent.

    ``"heads"``: every branch of the migration tree, so features that add tables on their own
    branches (each revising 0001) apply together until a merge revision joins them.

    Called at start-up by every process that writes the registry (ingest only reads one
    table and does not migrate: ingest/run.py). Runs in one transaction
    (SQLite and PostgreSQL both have transactional DDL), so a failed migration leaves the
    previous schema intact.
    """
    from alembic import command

    engine = url if isinstance(url, Engine) else engine_from_url(url)
    try:
        cfg = alembic_config()
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        if engine is not url:
            engine.dispose()
    log.debug("registry schema at %s", revision)


def open_registry(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """The registry of ``settings``, migrated: its engine and session factory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings)
    migrate(engine)
    return engine, session_factory(engine)


async def engine_when_reachable(settings: Settings) -> Engine:
    """The registry engine once the database answers, retried with backoff meanwhile
    (PostgreSQL still starting): one line naming ``GREENIOT_DB_URL``, no traceback."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    def probe() -> None:
        # Only reaching the database is retried: a migration that fails (two processes
        # migrating at once, say) must not be run again on a half-migrated schema.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        eng = make_engine(settings)
        try:
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            eng.dispose()

    async def attempt(_timeout_s: float) -> None:
        await asyncio.to_thread(probe)

    await retry_until_reachable(registry_dependency(settings), attempt,
                                retry_on=(OperationalError, OSError))
    return make_engine(settings)


async def open_registry_when_reachable(settings: Settings
                                      ) -> tuple[Engine, sessionmaker[Session]]:
    """:func:`open_registry` once the database answers (see :func:`engine_when_reachable`)."""
    (await engine_when_reachable(settings)).dispose()
    return await asyncio.to_thread(open_registry, settings)
