"""A planned stop is not a fault, a kill is: real MicroPython nodes on the real Mosquitto,
through the real ingest (stored confirmations) and the real analytics process.

- A node stopped cleanly (SIGINT → the firmware publishes status ``shutdown`` and disconnects,
  so the broker sends no last will) raises no offline alarm and no device-check task.
- A deep-sleeping node (status ``sleeping`` with its next wake-up ``next_ms``) that does not
  wake again is offline only once it missed that wake-up by the offline margin.
- A node killed without notice (the broker's last will ``offline``) is offline at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from greeniot.analytics.params import HEALTH_PARAMS, AnalyticsParams
from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.registry.context import seed
from greeniot.registry.models import Alert
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.services import MosquittoProcess
from tests.firmware.conftest import FAST
from tests.firmware.support import Observer
from tests.firmware.test_nodes import MakeNode
from tests.helpers import apoll
from tests.runtime.test_device_faults import alerts, tasks

pytestmark = [pytest.mark.firmware, pytest.mark.services]

#: Offline after 3 reporting intervals, at least 2 s (the defaults are 3 and 120 s: scaled to a
#: test that runs in seconds); the interval assumed for a new device is 1 s.
MIN_SILENCE_S = 2.0
HEALTH = dataclasses.replace(HEALTH_PARAMS["default"], min_silence_s=MIN_SILENCE_S,
                             default_interval_s={"soil": 1.0, "tilt": 1.0, "weather": 1.0})
SLEEP_INTERVAL_S = 8.0


def offline(sessions: Any, site: str, device: str) -> list[Any]:
    return [a for a in alerts(sessions, site) if a[:2] == ("device_offline", device)]


def checks(sessions: Any, site: str, device: str) -> list[Any]:
    return [t for t in tasks(sessions, site) if t[:2] == ("device_check", device)]


def offline_ts(sessions: Any, site: str, device: str) -> int:
    with sessions() as s:
        return int(s.scalars(select(Alert.ts_ms).where(
            Alert.site == site, Alert.device == device, Alert.kind == "device_offline")).one())


def test_a_clean_stop_is_silence_a_kill_is_offline(
        settings: Settings, site_id: str, tmp_path: Path, mosquitto: MosquittoProcess,
        make_node: MakeNode, make_observer: Any) -> None:
    s = settings.model_copy(update={
        "analytics": settings.analytics.model_copy(update={"tick_s": 1.0})})
    names = {k: f"{k}-{site_id}" for k in ("clean", "sleeper", "killed")}
    engine, sessions = open_registry(s)
    with sessions() as db:
        seed(db, sites=[{"id": site_id, "name": site_id}],
             devices=[{"site": site_id, "device": d, "kind": "soil"} for d in names.values()])
    ctx = read_context(sessions)
    obs: Observer = make_observer(mosquitto.port)
    live = {**FAST, "stored_confirm": True, "interval_s": 0.5, "sleep": False}
    clean = make_node("clean", "soil", mosquitto.port, **live)
    killed = make_node("killed", "soil", mosquitto.port, **live)
    sleeper = make_node("sleeper", "soil", mosquitto.port,
                        **{**live, "sleep": True, "interval_s": SLEEP_INTERVAL_S})
    out: dict[str, Any] = {}

    def status(device: str) -> dict[str, Any] | None:
        got = obs.payloads(device, "status")
        return got[-1] if got else None

    async def scenario() -> None:
        async with (IngestService(s), MaintenanceService(
                s, ctx, sessions, idle_s=0.5, params=AnalyticsParams(health=HEALTH))):
            for node in (clean, killed):
                await asyncio.to_thread(node.start)
            for _ in range(3):  # three wake cycles, each ending with "sleeping until next_ms"
                assert await asyncio.to_thread(sleeper.wake, 30) == 0
            await apoll(lambda: all(len(obs.payloads(n.device, "soil")) >= 4
                                    for n in (clean, killed)), timeout_s=30,
                        what="readings of the live nodes")
            sleeping = status(sleeper.device)
            assert sleeping is not None and sleeping["state"] == "sleeping", sleeping
            out["next_ms"] = int(sleeping["next_ms"])
            out["shutdown_code"] = await asyncio.to_thread(clean.shutdown)
            await asyncio.to_thread(killed.kill)
            out["stopped_ms"] = int(time.time() * 1000)
            await apoll(lambda: offline(sessions, site_id, killed.device), thread=True,
                        timeout_s=30, what="the killed node's offline alarm")
            # The sleeper's wake-up is due: not offline yet (the margin is still running).
            wait_s = out["next_ms"] / 1000 - time.time()
            await asyncio.sleep(max(0.0, wait_s))
            out["at_wake"] = (offline(sessions, site_id, sleeper.device),
                              checks(sessions, site_id, sleeper.device))
            await apoll(lambda: offline(sessions, site_id, sleeper.device), thread=True,
                        timeout_s=30, what="the sleeper's offline alarm after its wake-up")
            out["sleeper_ts"] = offline_ts(sessions, site_id, sleeper.device)
            out["end_ms"] = int(time.time() * 1000)
            out["clean"] = (offline(sessions, site_id, clean.device),
                            checks(sessions, site_id, clean.device))

    try:
        asyncio.run(scenario())
        killed_checks = checks(sessions, site_id, killed.device)
    finally:
        engine.dispose()
    assert out["shutdown_code"] == 0
    assert (status(clean.device) or {}).get("state") == "shutdown"
    assert [a[1] for a in killed_checks] == [killed.device]  # a kill is a fault with a task
    assert out["at_wake"] == ([], []), out["at_wake"]
    # raised only after the announced wake-up plus the margin (at least MIN_SILENCE_S)
    assert out["sleeper_ts"] >= out["next_ms"] + MIN_SILENCE_S * 1000, out
    # the clean stop: silent for far longer than its own margin (3 x 0.5 s, at least 2 s)
    assert out["end_ms"] - out["stopped_ms"] > 4 * MIN_SILENCE_S * 1000
    assert out["clean"] == ([], []), out["clean"]
    print(f"sleeper offline {(out['sleeper_ts'] - out['next_ms']) / 1000:.1f} s after its "
          f"announced wake-up; clean node silent {(out['end_ms'] - out['stopped_ms']) / 1000:.0f}"
          " s without an alarm")
