"""The simulator follows ingest's ``stored`` confirmations like the firmware: a run with
``confirm_resend_s`` ends only when ingest holds every reading, each stored once."""

from __future__ import annotations

import asyncio

import pytest

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.simulators import Fleet, SimOptions
from greeniot.simulators.runner import RunResult, run
from tests.ingest.test_service import influx_rows

pytestmark = pytest.mark.services


def test_confirmed_run_ends_with_every_reading_stored(settings: Settings, site_id: str) -> None:
    fleet = Fleet.generate(trees_per_site=4, zones_per_site=2, seed=3, site_ids=[site_id])

    async def scenario() -> tuple[RunResult, IngestService]:
        async with IngestService(settings) as svc:
            result = await run("drought", fleet, port=settings.mqtt.port, span_s=6 * 3600,
                               step_s=300, options=SimOptions(batch_max=1),
                               client_id_prefix=f"sim-{site_id}", confirm_resend_s=5.0,
                               confirm_timeout_s=60)
            await svc.writer.flush(20)
        return result, svc

    result, svc = asyncio.run(scenario())
    assert svc.stats.confirmations > 0
    got: dict[str, list[int]] = {}
    for m in ("soil", "tilt", "weather", "valve"):
        for row in influx_rows(settings, f'SELECT seq FROM {m} GROUP BY "device"'):
            got.setdefault(row["device"], []).append(row["seq"])
    readings = {dev: n for (_site, dev), n in result.seq_counts.items() if dev in got}
    assert readings, "readings stored"
    for dev, seqs in got.items():
        assert sorted(seqs) == sorted(set(seqs)), f"{dev}: a (device, seq) stored twice"
        assert set(seqs) == set(range(readings[dev])), dev
