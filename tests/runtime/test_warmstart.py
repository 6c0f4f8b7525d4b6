"""Analytics restarts from InfluxDB history: it keeps what it knew, and re-alerts nothing."""

from __future__ import annotations

import asyncio
import time

import pytest

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.registry.context import seed
from greeniot.runtime.processes import open_registry, read_context
from greeniot.runtime.warmstart import warm_start
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import run
from greeniot.store.influx import InfluxClient
from greeniot.store.queries import history
from tests.ingest.test_service import influx_rows


def test_restart_keeps_history_and_does_not_realert(settings: Settings, site_id: str) -> None:
    fleet = Fleet.generate(sites=1, trees_per_site=10, zones_per_site=1, seed=11,
                           site_ids=[site_id])
    engine_db, sessions = open_registry(settings)
    with sessions() as session:
        seed(session, **fleet.registry())
    ctx = read_context(sessions)
    engine_db.dispose()

    async def scenario():
        async with IngestService(settings):
            result = await run("typhoon", fleet, port=settings.mqtt.port, span_s=96 * 3600,
                               speed=None, step_s=300, seed=11,
                               client_id_prefix=f"sim-{site_id}")
            want = sum(n for (_s, d), n in result.seq_counts.items() if d.startswith("tilt"))
            deadline = time.monotonic() + 30
            while True:
                rows = await asyncio.to_thread(
                    influx_rows, settings, "SELECT count(pitch_deg) FROM tilt")
                if rows and rows[0]["count"] >= want:
                    break
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        now = int(time.time() * 1000)
        async with InfluxClient(settings.influx) as influx:
            tilt = await history(influx, "tilt", ("pitch_deg", "roll_deg"),
                                 since_ms=now - 14 * 86_400_000, until_ms=now)
            cold = AnalyticsEngine(ctx)
            newest = await warm_start(cold, influx, now_ms=now, prime=False)
            primed = AnalyticsEngine(ctx)
            await warm_start(primed, influx, now_ms=now, prime=True)
        return result, tilt, newest, cold.tick(newest).events, primed.tick(newest + 600_000).events

    result, tilt, newest, cold_events, primed_events = asyncio.run(scenario())
    assert len(tilt) == sum(n for (_s, d), n in result.seq_counts.items()
                            if d.startswith("tilt"))
    assert newest == pytest.approx(result.end_ms, abs=600_000)
    (fallen,) = result.truth.failures
    # From history alone, a fresh engine finds the fallen tree and the lasting leans...
    found = {(e.kind, e.tree) for e in cold_events}
    assert ("failure", fallen) in found
    for tree in result.truth.lean_steps:
        assert any(t == tree and k.startswith("lean") for k, t in found), (tree, found)
    # ...and a primed one, which knows they were reported before the restart, stays silent.
    assert [e for e in primed_events if e.kind in ("failure", "lean", "lean_step")] == []
