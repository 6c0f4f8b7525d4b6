"""A dependency that is not there: one line naming it and the setting, retries, no traceback;
ingest keeps writing its spool; the API serves with health "degraded"."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from greeniot.config import MqttSettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.ingest.spool import Spool
from greeniot.runtime.processes import serve_api
from greeniot.services.process import free_port
from tests.api.conftest import auth_settings
from tests.helpers import apoll, poll
from tests.ingest.test_service import influx_rows

GREENIOT = str(Path(sys.executable).parent / "greeniot")


def run_cli(args: list[str], env: dict[str, str], until: str, timeout_s: float = 60.0
            ) -> list[str]:
    """Start ``greeniot <args>``, wait until a stderr line contains ``until``, a little
    longer for a second retry, then stop it; return its stderr lines."""
    proc = subprocess.Popen([GREENIOT, *args], env={**os.environ, **env},
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")),
                              daemon=True)
    reader.start()
    try:
        poll(lambda: any(until in ln for ln in lines), timeout_s=timeout_s,
             what=f"{until!r} in the log of greeniot {args[0]}")
        time.sleep(5)  # a second attempt (first timeout 3 s + backoff) must add no line
    finally:
        proc.terminate()
        proc.wait(20)
        reader.join(5)
    return [ln.rstrip("\n") for ln in lines]


def test_ingest_without_broker_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    lines = run_cli(["ingest", "--data-dir", str(tmp_path), "--mqtt-port", str(port),
                     "--influx-url", f"http://127.0.0.1:{free_port()}"], {},
                    until="GREENIOT_MQTT__PORT")
    broker = [ln for ln in lines if "MQTT broker" in ln]
    assert len(broker) == 1, lines
    assert f"mqtt://127.0.0.1:{port}" in broker[0] and "retrying" in broker[0]
    assert " WARNING " in broker[0] and "+00:00" in broker[0].split(" ")[0]
    assert not any("Traceback" in ln for ln in lines), lines


def test_json_logs_are_all_json(tmp_path: Path) -> None:
    lines = run_cli(["ingest", "--data-dir", str(tmp_path), "--mqtt-port", str(free_port())],
                    {"GREENIOT_LOG_JSON": "true"}, until="GREENIOT_MQTT__PORT")
    objs = [json.loads(ln) for ln in lines if ln.strip()]
    assert next(o for o in objs if "MQTT broker" in o["msg"])["level"] == "warning"


def test_ingest_writes_its_spool_to_influx_while_the_broker_is_away(settings: Settings,
                                                                    site_id: str) -> None:
    s = settings.model_copy(update={"mqtt": MqttSettings(port=free_port())})
    now = int(time.time() * 1000)
    spool = Spool(s.spool_dir / "ingest-0")
    spool.append([f"soil,device=soil-9,site={site_id} vwc_pct=21.5,seq=0i {now}"])
    spool.close()

    async def scenario() -> None:
        svc = IngestService(s)
        entering = asyncio.create_task(svc.__aenter__())  # waits for the broker meanwhile
        try:
            await apoll(lambda: influx_rows(s, "SELECT vwc_pct FROM soil"), timeout_s=20,
                        thread=True, what="the spooled reading in InfluxDB")
            assert not entering.done()
        finally:
            entering.cancel()
            await asyncio.gather(entering, return_exceptions=True)
            await svc.influx.aclose()
            svc.spool.close()

    asyncio.run(scenario())
    assert influx_rows(s, "SELECT vwc_pct FROM soil")[0]["vwc_pct"] == 21.5


def test_api_serves_degraded_without_broker(settings: Settings) -> None:
    s = settings.model_copy(update={
        "mqtt": MqttSettings(port=free_port()), "auth": auth_settings(),
        "api": settings.api.model_copy(update={"port": 0})})

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve_api(s, on_ready=ready.set_result))
        try:
            port = await asyncio.wait_for(ready, 30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                return (await http.get("/health"), await http.get("/api/v1/health"),
                        await http.get("/metrics"))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    root, v1, metrics = asyncio.run(scenario())
    for resp in (root, v1):
        assert resp.status_code == 503
        body = resp.json()
        assert body["status"] == "degraded" and body["db"] == "ok" and body["influx"] == "ok"
        assert "GREENIOT_MQTT__PORT" in body["mqtt"], body
    assert metrics.status_code == 200
    requests = [ln for ln in metrics.text.splitlines()
                if ln.startswith("greeniot_api_requests_total")]
    assert 'greeniot_api_requests_total{method="GET",route="/health",status="503"} 1.0' \
        in requests, requests
    assert "greeniot_registry_tasks" in metrics.text
