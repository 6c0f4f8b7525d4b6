"""Alembic environment for the registry.

Normally run programmatically by :func:`greeniot.registry.db.migrate`, which hands over an open
connection in ``config.attributes["connection"]``. From a shell (new revisions, by hand):
``alembic -c src/greeniot/registry/migrations/alembic.ini upgrade head`` uses
``GREENIOT_DB_URL`` / ``GREENIOT_DATA_DIR`` like every other greeniot process.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from greeniot.registry.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: rewrite the table in batch mode instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_from_shell() -> None:
    from greeniot.config import Settings
    from greeniot.registry.db import engine_from_url

    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = engine_from_url(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against a database")

_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _run_from_shell()
