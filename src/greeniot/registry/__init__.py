"""The registry: estate ledger (sites, zones, trees, devices) and workflow state (tasks, alerts,
valve commands) in SQL.

SQLite file in the data folder by default, PostgreSQL by URL; the schema is migrated with
Alembic at start-up (:func:`greeniot.registry.db.migrate`). Nothing lives only in memory, so a
restart loses no task, alert or command. There is no module-level engine: build one with
:func:`greeniot.registry.db.make_engine` and pass sessions down.
"""
