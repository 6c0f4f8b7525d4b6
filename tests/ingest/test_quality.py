"""Implausible values (protocol/plausible.py): stored by ingest with a quality flag, left out
by analytics — live and after a warm start from InfluxDB."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from greeniot.analytics.engine import AnalyticsEngine
from greeniot.config import Settings
from greeniot.estate import EstateContext
from greeniot.protocol import SoilReading, encode
from greeniot.runtime.warmstart import warm_start
from greeniot.store.influx import InfluxClient
from tests.helpers import Publisher
from tests.ingest.test_service import influx_rows, run_ingest, seqs


def test_implausible_values_are_stored_flagged_and_left_out_of_analytics(
        settings: Settings, site_id: str) -> None:
    now = int(time.time() * 1000)
    topic = f"greeniot/v1/{site_id}/soil-1/soil"
    good = [SoilReading(seq=i, ts_ms=now - 60_000 * (10 - i), vwc_pct=30.0 + i / 10,
                        bat_v=3.9) for i in range(8)]
    li_ion_at_10v = SoilReading(seq=8, ts_ms=now - 60_000 * 2, vwc_pct=31.0, bat_v=9.99)
    open_probe = SoilReading(seq=9, ts_ms=now - 60_000, vwc_pct=0.2, bat_v=3.9)
    asyncio.run(run_ingest(settings, lambda: True))  # the persistent session first
    pub = Publisher(settings.mqtt.port)
    pub.publish_many([(topic, encode(m)) for m in (*good, li_ion_at_10v, open_probe)])
    pub.close()
    svc = asyncio.run(run_ingest(settings, lambda: len(seqs(settings, "soil", "soil-1")) >= 10))
    assert svc.stats.rejected == {} and svc.stats.flagged == 2  # stored, not refused
    rows = {r["seq"]: r for r in influx_rows(
        settings, "SELECT seq, bat_v, vwc_pct, quality FROM soil")}
    assert rows[8]["quality"] == "implausible:bat_v" and rows[8]["bat_v"] == 9.99
    assert rows[9]["quality"] == "implausible:vwc_pct"
    assert all(rows[i]["quality"] is None for i in range(8))

    async def warm() -> AnalyticsEngine:
        engine = AnalyticsEngine(EstateContext())
        async with InfluxClient(settings.influx) as influx:
            await warm_start(engine, influx, now_ms=now + 1000, prime=False)
        return engine

    engine = asyncio.run(warm())
    h = engine.health
    row = h.index.get(site_id, "soil-1")
    assert row is not None
    ts = h.windows.chronological("ts_ms")[row]
    bat = h.windows.chronological("bat_v")[row]
    vwc = h.windows.chronological("v1")[row]
    held = ts > 0
    assert held.sum() == 9  # the 0.2 % reading is left out, the 9.99 V one kept without it
    assert np.nanmax(bat[held]) < 4.0
    assert np.nanmin(vwc[held]) > 29.0
