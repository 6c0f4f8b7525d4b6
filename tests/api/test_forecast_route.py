"""``POST /sites/{site}/forecast`` without a broker connection: the request is judged in full
(role, site, body, issue time) before the missing broker is named (the broker path is
tests/e2e/test_forecast_loop.py). And while it waits for the broker, it holds no registry lock.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from greeniot.config import Settings
from greeniot.registry.db import engine_from_url, session_factory
from tests.api.conftest import API


def test_refusals_name_what_is_wrong(clients: dict[str, TestClient]) -> None:
    op = clients["operator"]
    r = op.post(f"{API}/sites/estate-a/forecast", json={"rain_today_mm": 6.0})
    assert r.status_code == 503 and "forecasts cannot be published" in r.text
    assert op.post(f"{API}/sites/nowhere/forecast", json={}).status_code == 404
    r = op.post(f"{API}/sites/estate-a/forecast", json={"temp_min_c": 5, "temp_max_c": 1})
    assert r.status_code == 422 and "temp_min_c (5.0) is above temp_max_c" in r.text
    r = op.post(f"{API}/sites/estate-a/forecast", json={"ts_ms": 4_000_000_000_000})
    assert r.status_code == 422 and "in the future" in r.text
    r = op.post(f"{API}/sites/estate-a/forecast", json={"snow_mm": 3})
    assert r.status_code == 422 and "snow_mm" in r.text
    assert clients["crew"].post(f"{API}/sites/estate-a/forecast", json={}).status_code == 403


def test_no_registry_lock_is_held_while_the_broker_is_awaited(
        app: Any, clients: dict[str, TestClient], api_settings: Settings) -> None:
    """On SQLite every transaction holds the write lock (BEGIN IMMEDIATE). A request that
    awaited the broker's PUBACK with its guard's or its site check's transaction open made
    every other writer wait for the busy timeout; one on the event loop's thread (the
    maintenance service beside the API) deadlocked with it for the whole timeout. Here the
    broker, while it is awaited, writes on a connection of its own that gives up after
    0.3 s."""
    other = engine_from_url(api_settings.database_url, busy_timeout_ms=300)
    wrote: list[str] = []

    def write() -> None:
        with session_factory(other)() as s:
            s.execute(text("UPDATE sites SET name = name WHERE id = 'estate-a'"))
            s.commit()
        wrote.append("ok")

    async def broker(topic: str, payload: bytes, qos: int = 1, **_: Any) -> None:
        await asyncio.to_thread(write)  # "database is locked" after 0.3 s if the lock is held

    app.state.publisher = broker
    try:
        r = clients["operator"].post(f"{API}/sites/estate-a/forecast",
                                     json={"rain_today_mm": 6.0})
    finally:
        other.dispose()
    assert r.status_code == 202, r.text
    assert wrote == ["ok"]
