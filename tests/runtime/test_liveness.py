"""The analytics loop's liveness is part of health and metrics, on the real services: an
analytics process (in this process, and as a real ``greeniot analytics`` child for kill -9 and
SIGSTOP), the API served by ``serve_api`` reading the retained liveness over the broker, and
each process's Prometheus ``/metrics``.

Each test runs its own Mosquitto: liveness topics are per deployment, and another test's
retained documents must not leak in.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from greeniot.config import Settings
from greeniot.metrics import Metrics, serve
from greeniot.runtime.liveness import LivenessBoard, health_topic
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import serve_api
from greeniot.runtime.telemetry import MaintenanceTelemetry
from greeniot.services import MosquittoProcess
from greeniot.services.process import ChildService, free_port, port_open
from tests.api.conftest import auth_settings
from tests.helpers import Publisher, apoll
from tests.runtime.test_device_faults import STEP, now_step, registry, soil

pytestmark = pytest.mark.services
Health = tuple[int, dict[str, Any]]


def live_settings(settings: Settings, broker: MosquittoProcess, every_s: float) -> Settings:
    return settings.model_copy(update={
        "mqtt": settings.mqtt.model_copy(update={"port": broker.port}),
        "analytics": settings.analytics.model_copy(update={"tick_s": 300.0,
                                                           "health_every_s": every_s}),
        "auth": auth_settings(), "api": settings.api.model_copy(update={"port": 0})})


@asynccontextmanager
async def api(s: Settings) -> AsyncIterator[Callable[[], Awaitable[Health]]]:
    """The API as ``greeniot api`` serves it; yields a /health probe."""
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_api(s, on_ready=ready.set_result))
    try:
        port = await asyncio.wait_for(ready, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            async def health() -> Health:
                r = await http.get("/health")
                return r.status_code, r.json()

            yield health
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(health: Callable[[], Awaitable[Health]], check: Callable[[Health], bool],
                what: str, timeout_s: float = 30.0) -> Health:
    async def once() -> Health | None:
        h = await health()
        return h if check(h) else None

    return await apoll(once, timeout_s=timeout_s, interval_s=0.1, what=what)


def ok(h: Health) -> bool:
    return h[0] == 200 and h[1]["analytics"] == "ok"


def metric(text: str, name: str) -> float | None:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_health_and_metrics_follow_the_loop_through_a_restart_and_a_stop(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    broker = MosquittoProcess(tmp_path / "broker")
    broker.start()
    s = live_settings(settings, broker, every_s=0.5)
    engine, sessions, ctx = registry(s, site_id, ["soil-p1"])
    metrics = Metrics()
    mport = free_port()
    server = serve(metrics, host="127.0.0.1", port=mport)

    def scrape() -> str:
        return httpx.get(f"http://127.0.0.1:{mport}/metrics", timeout=5).text

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with api(s) as health:
            out["before"] = await health()  # nothing has ever reported
            async with MaintenanceService(s, ctx, sessions, idle_s=1.0,
                                          telemetry=MaintenanceTelemetry(metrics)) as svc:
                out["up"] = await until(health, ok, "health ok with analytics running")
                out["metrics_up"] = await asyncio.to_thread(scrape)
                real = svc.feed.due
                calls = {"n": 0}

                def flaky(wall_ms: int) -> Any:
                    calls["n"] += 1
                    if calls["n"] == 1:
                        raise RuntimeError("injected failure in the processing loop")
                    return real(wall_ms)

                svc.feed.due = flaky  # type: ignore[method-assign]
                pub = Publisher(s.mqtt.port)
                try:
                    pub.publish_many([soil(site_id, "soil-p1", 0, now_step() - STEP, 30.0)])
                finally:
                    pub.close()
                out["restarted"] = await until(
                    health, lambda h: ok(h) and h[1]["analytics_processes"]["analytics"][
                        "restarts"] == 1, "restarts=1 in /health after the injected failure")
                out["metrics_restarted"] = await asyncio.to_thread(scrape)
            out["stopped"] = await until(health, lambda h: h[0] == 503,
                                         "health degraded after analytics stopped")
        return out

    try:
        out = asyncio.run(scenario())
    finally:
        server.shutdown()
        engine.dispose()
        broker.stop()
    code, body = out["before"]
    assert code == 503 and body["status"] == "degraded"
    assert "no analytics process" in body["analytics"], body
    code, body = out["up"]
    assert body["status"] == "ok" and body["analytics_processes"]["analytics"]["state"] == "ok"
    m = out["metrics_up"]
    assert metric(m, 'greeniot_analytics_alive{shard=""}') == 1.0
    assert metric(m, 'greeniot_analytics_loop_restarts_total{shard=""}') == 0.0
    age = metric(m, 'greeniot_analytics_heartbeat_age_seconds{shard=""}')
    assert age is not None and 0 <= age < 5
    proc = out["restarted"][1]["analytics_processes"]["analytics"]
    assert proc["restarts"] == 1 and proc["state"] == "ok"
    m = out["metrics_restarted"]
    assert metric(m, 'greeniot_analytics_loop_restarts_total{shard=""}') == 1.0
    assert metric(m, 'greeniot_analytics_alive{shard=""}') == 1.0
    assert metric(m, 'greeniot_analytics_readings_total{shard=""}') == 1.0
    code, body = out["stopped"]
    assert body["status"] == "degraded" and body["db"] == "ok" and body["mqtt"] == "ok"
    assert "analytics was stopped" in body["analytics"], body
    assert body["analytics_processes"]["analytics"]["state"] == "stopped"


class AnalyticsProcess(ChildService):
    """``greeniot analytics`` as a real child process (so kill -9 and SIGSTOP are real)."""

    name = "analytics"

    def __init__(self, workdir: Path, s: Settings, metrics_port: int) -> None:
        super().__init__(workdir)
        self.metrics_port = metrics_port
        self.env = {
            "GREENIOT_DATA_DIR": str(s.data_dir), "GREENIOT_MQTT__PORT": str(s.mqtt.port),
            "GREENIOT_MQTT__CLIENT_ID": s.mqtt.client_id,
            "GREENIOT_INFLUX__URL": s.influx.url, "GREENIOT_INFLUX__DATABASE": s.influx.database,
            "GREENIOT_ANALYTICS__HEALTH_EVERY_S": str(s.analytics.health_every_s),
            "GREENIOT_METRICS__PORT": str(metrics_port),
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}

    def argv(self) -> list[str]:
        return ["env", *[f"{k}={v}" for k, v in sorted(self.env.items())], sys.executable,
                "-m", "greeniot", "analytics"]

    def ready(self) -> bool:
        return port_open(self.metrics_port)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)


def test_health_names_a_killed_or_hung_analytics_process(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    broker = MosquittoProcess(tmp_path / "broker")
    broker.start()
    s = live_settings(settings, broker, every_s=1.0)
    engine, _sessions, _ctx = registry(s, site_id, ["soil-p1"])
    proc = AnalyticsProcess(tmp_path / "analytics", s, free_port())

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with api(s) as health:
            await asyncio.to_thread(proc.start, 60)
            out["up"] = await until(health, ok, "health ok with `greeniot analytics` running",
                                    timeout_s=60)
            out["metrics"] = (await asyncio.to_thread(
                httpx.get, f"http://127.0.0.1:{proc.metrics_port}/metrics")).text
            t0 = time.monotonic()
            await asyncio.to_thread(proc.kill)
            out["killed"] = await until(health, lambda h: h[0] == 503,
                                        "health degraded after kill -9 of analytics")
            out["killed_after_s"] = time.monotonic() - t0
            await asyncio.to_thread(proc.start, 60)
            out["back"] = await until(health, ok, "health ok after analytics restarted",
                                      timeout_s=60)
            t0 = time.monotonic()
            proc.signal(signal.SIGSTOP)  # hung: its broker connection stays open, no will
            try:
                out["hung"] = await until(health, lambda h: h[0] == 503,
                                          "health degraded while analytics is stopped")
                out["hung_after_s"] = time.monotonic() - t0
            finally:
                proc.signal(signal.SIGCONT)
            out["resumed"] = await until(health, ok, "health ok after SIGCONT")
        return out

    try:
        out = asyncio.run(scenario())
    finally:
        proc.stop()
        engine.dispose()
        broker.stop()
    assert out["up"][1]["analytics_processes"]["analytics"]["state"] == "ok"
    assert metric(out["metrics"], 'greeniot_analytics_alive{shard=""}') == 1.0
    body = out["killed"][1]
    assert body["analytics_processes"]["analytics"]["state"] == "down", body
    assert "analytics is down" in body["analytics"] and "killed" in body["analytics"]
    assert out["killed_after_s"] < 10  # the broker's last will, not a timeout
    assert out["back"][1]["analytics_processes"]["analytics"]["restarts"] == 0
    body = out["hung"][1]
    assert body["analytics_processes"]["analytics"]["state"] == "stale", body
    assert "analytics is stale" in body["analytics"]
    assert 2.0 <= out["hung_after_s"] < 20  # 3 missed publications of 1 s (the last one
    # came up to 1 s before the stop)
    print(f"degraded {out['killed_after_s']:.1f} s after kill -9, "
          f"{out['hung_after_s']:.1f} s after SIGSTOP")


def test_health_per_shard_a_clean_stop_of_one_shard_is_not_a_fault(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    """Two analytics shards: /health lists both; one stopped cleanly hands its sites over and
    leaves health ok (naming it ``stopped``); with both stopped health is degraded."""
    broker = MosquittoProcess(tmp_path / "broker")
    broker.start()
    s = live_settings(settings, broker, every_s=0.5)
    engine, sessions, ctx = registry(s, site_id, ["soil-p1"])

    def shard(name: str) -> MaintenanceService:
        return MaintenanceService(s.model_copy(update={"analytics": s.analytics.model_copy(
            update={"shard": name})}), ctx, sessions)

    def both_ok(h: Health) -> bool:
        procs = h[1]["analytics_processes"]
        return ok(h) and {p: procs.get(p, {}).get("state") for p in (
            "analytics-a", "analytics-b")} == {"analytics-a": "ok", "analytics-b": "ok"}

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with api(s) as health, shard("a"):
            async with shard("b"):
                out["both"] = await until(health, both_ok, "both shards ok in /health")
            out["one"] = await until(health, lambda h: h[1]["analytics_processes"].get(
                "analytics-b", {}).get("state") == "stopped", "shard b stopped in /health")
        async with api(s) as health:
            out["none"] = await until(health, lambda h: h[0] == 503, "both shards stopped")
        return out

    try:
        out = asyncio.run(scenario())
    finally:
        engine.dispose()
        broker.stop()
    code, body = out["one"]
    assert code == 200 and body["status"] == "ok", body
    assert body["analytics_processes"]["analytics-a"]["state"] == "ok"
    code, body = out["none"]
    assert "analytics-a was stopped" in body["analytics"], body
    assert "analytics-b was stopped" in body["analytics"], body


def test_verdict_names_what_is_wrong() -> None:
    """The judgement of liveness documents (the broker tests above produce each of them)."""
    now = 1_800_000_000_000
    board = LivenessBoard()
    assert not board.verdict(now).ok
    fresh = {"state": "running", "alive": True, "every_s": 10, "published_ms": now - 5_000,
             "heartbeat_ms": now - 1_000, "restarts": 2, "failed": {"tick": 1}, "ticks": 7}
    board.observe(health_topic("a"), json.dumps(fresh).encode())
    v = board.verdict(now)
    assert v.ok and v.processes[0].restarts == 2 and v.processes[0].failed == {"tick": 1}
    board.observe(health_topic("b"), json.dumps({**fresh, "published_ms": now - 31_000}).encode())
    assert "analytics-b is stale" in board.verdict(now).summary
    board.observe(health_topic("b"), json.dumps({**fresh, "alive": False}).encode())
    assert "analytics-b is failing" in board.verdict(now).summary
    board.observe(health_topic("b"), b"{not json")
    assert "analytics-b is down" in board.verdict(now).summary
    board.observe(health_topic("b"), b"")  # a retained document cleared by hand
    assert board.verdict(now).ok
