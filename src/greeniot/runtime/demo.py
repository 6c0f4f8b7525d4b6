"""``greeniot demo``: the whole system on one machine, in compressed time.

Local Mosquitto and InfluxDB run as child processes in the data folder; ingest, analytics +
actions and the API run in this event loop; a simulated estate plays a typhoon on one site and
a drought on another, over the same span of event time ending now, with a real MicroPython
valve node serving one drought zone. One line per alert, task and valve ack; then a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr
from sqlalchemy import func, select

from greeniot.config import Settings
from greeniot.ingest.service import IngestService
from greeniot.registry.accounts import ensure_role_accounts
from greeniot.registry.context import seed
from greeniot.registry.models import Alert, Command, Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import bindings_of, open_registry, read_context, serve_api
from greeniot.services import InfluxProcess, MosquittoProcess

log = logging.getLogger(__name__)

SITES = {"estate-a": "typhoon", "estate-b": "drought"}
SAMPLE_ESTATE = Path(__file__).resolve().parents[3] / "deploy" / "sample-estate" / "estate.geojson"
#: Five days of event time: a calm day gives every tree its baseline before the storm.
SPAN_H = 120.0


class Console:
    """Plain lines with the wall time, flushed at once (the demo is watched live)."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    def __call__(self, text: str) -> None:
        self.out.write(f"{time.strftime('%H:%M:%S')}  {text}\n")
        self.out.flush()


def clear_demo_data(data: Path) -> None:
    """Remove what an earlier demo left in ``data`` (only what the demo itself creates)."""
    for name in ("mosquitto", "influxdb", "spool"):
        shutil.rmtree(data / name, ignore_errors=True)
    for path in (*data.glob("registry.sqlite3*"), *data.glob("fw-*")):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def split_fleet(fleet: Any, site: str) -> Any:
    return dataclasses.replace(
        fleet, sites=tuple(s for s in fleet.sites if s.site == site),
        zones=tuple(z for z in fleet.zones if z.site == site),
        trees=tuple(t for t in fleet.trees if t.site == site))


async def run_demo(settings: Settings, *, duration_s: float = 0.0, trees: int = 24,
                   zones: int = 4, scenario_s: float = 40.0, api_port: int = 8000,
                   firmware: bool = True, fresh: bool = True,
                   console: Console | None = None) -> dict[str, int]:
    from greeniot.simulators.fleet import Fleet
    from greeniot.simulators.runner import Progress, run

    say = console or Console()
    t_start = time.monotonic()
    data = settings.data_dir
    if fresh:
        clear_demo_data(data)
    data.mkdir(parents=True, exist_ok=True)
    broker = MosquittoProcess(data / "mosquitto")
    influx = InfluxProcess(data / "influxdb")
    await asyncio.to_thread(broker.start)
    await asyncio.to_thread(influx.start)
    say(f"mosquitto on 127.0.0.1:{broker.port}, influxdb on {influx.url} (data in {data})")
    from greeniot.services.process import free_port, port_open

    port = api_port if api_port and not port_open(api_port) else free_port()
    s = settings.model_copy(update={
        # a detector pass per 30 min of event time: 120 h in ~40 s is 240 passes per site,
        # 0.17 s of wall time each (a live estate keeps the default of one per minute)
        "analytics": settings.analytics.model_copy(update={
            "tick_s": max(settings.analytics.tick_s, 1800.0)}),
        "mqtt": settings.mqtt.model_copy(update={"host": "127.0.0.1", "port": broker.port}),
        "influx": settings.influx.model_copy(update={"url": influx.url}),
        "api": settings.api.model_copy(update={"port": port}),
        # A secret of its own unless one is set; the cookie goes over plain HTTP on loopback.
        "auth": settings.auth.model_copy(update={
            "secret": settings.auth.secret or SecretStr(secrets.token_urlsafe(32)),
            "cookie_secure": False}),
    })
    engine, sessions = open_registry(s)
    fleet = Fleet.generate(sites=len(SITES), trees_per_site=trees, zones_per_site=zones,
                           seed=7, site_ids=list(SITES))
    with sessions() as session:
        estate = water_balance(fleet.registry())
        seed(session, sites=estate["sites"], zones=estate["zones"], trees=estate["trees"],
             devices=estate["devices"])
        if SAMPLE_ESTATE.exists():  # the ledger sample of deploy/ (a source checkout only)
            from greeniot.registry.ledger import import_file

            report = import_file(session, SAMPLE_ESTATE)
            say(f"sample estate {SAMPLE_ESTATE.name}: {report.rows} rows, "
                f"{len(report.errors)} refused")
        logins = ensure_role_accounts(session)
    for name, pw in logins.items():
        say(f"login {name} / {pw if pw else '(kept from the last run)'}")
    ctx = read_context(sessions)
    say(f"registry: {len(fleet.sites)} sites, {len(fleet.trees)} trees "
        f"({sum(t.heritage for t in fleet.trees)} heritage), {len(fleet.zones)} zones, "
        f"{len(ctx.devices)} devices")

    nodes: list[Any] = []
    external: dict[str, list[str]] = {site: [] for site in SITES}
    if firmware:
        # Every valve of the drought site is a real MicroPython node: whichever zone dries,
        # the command is acknowledged by the firmware.
        try:
            from greeniot.services.firmware import FirmwareNode

            for zone in (z for z in fleet.zones if SITES[z.site] == "drought"):
                node = FirmwareNode(data / f"fw-{zone.valve_device}", site=zone.site,
                                    device=zone.valve_device, kind="valve",
                                    mqtt_port=broker.port, max_run_s=20)
                await asyncio.to_thread(node.start)
                nodes.append(node)
                external[zone.site].append(zone.valve_device)
            say(f"MicroPython valve nodes up: {', '.join(external['estate-b'])}")
        except Exception as err:  # the demo goes on with the simulated valves
            say(f"MicroPython valve nodes not started ({err}); using simulated valves")
            for node in nodes:
                node.stop()
            nodes.clear()
            external = {site: [] for site in SITES}

    counts: dict[str, int] = {}

    def outcome(o: Any) -> None:
        say(str(o))

    try:
        async with (IngestService(s, bindings=bindings_of(ctx)) as ingest,
                    MaintenanceService(s, ctx, sessions, on_outcome=outcome) as maint):
            api_ready = asyncio.Event()
            api_task = asyncio.create_task(serve_api(
                s, engine=engine, on_ready=lambda p: api_ready.set()))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(api_ready.wait(), 15)
                say(f"API on http://127.0.0.1:{port}/docs  (e.g. /api/v1/tasks); crew page "
                    f"http://127.0.0.1:{port}/crew (log in as demo-crew); token: POST "
                    f"/api/v1/auth/token with username and password")
                span_s = SPAN_H * 3600
                last_pct: dict[str, int] = {}

                def progress(site: str) -> Any:
                    def show(p: Progress) -> None:
                        pct = int(p.fraction * 100) // 25 * 25
                        if last_pct.get(site) != pct:
                            last_pct[site] = pct
                            say(f"[{site} {SITES[site]}] {pct:3d}% of {SPAN_H:.0f} h simulated, "
                                f"{p.published} messages")
                    return show

                say(f"playing {', '.join(f'{v} on {k}' for k, v in SITES.items())}: "
                    f"{SPAN_H:.0f} h in {scenario_s:.0f} s")
                results = await asyncio.gather(*(
                    run(scenario, split_fleet(fleet, site), host="127.0.0.1", port=broker.port,
                        span_s=span_s, speed=span_s / scenario_s, step_s=300.0,
                        on_progress=progress(site), external_valves=external[site],
                        client_id_prefix=f"demo-sim-{site}", seed=7)
                    for site, scenario in SITES.items()))
                for site, r in zip(SITES, results, strict=True):
                    say(f"ground truth [{site}]: {truth_line(r.truth)}")
                # Let ingest and analytics catch up with the last readings.
                await ingest.writer.flush(15)
                await caught_up(maint)
                counts = summary(sessions, ingest, maint)
                say("summary: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
                for line in open_tasks(sessions):
                    say(line)
                say(f"crew page http://127.0.0.1:{port}/crew ; "
                    f"API on http://127.0.0.1:{port}/docs ; InfluxDB {influx.url} db "
                    f"{s.influx.database}")
                remaining = duration_s - (time.monotonic() - t_start) if duration_s else None
                say(uptime_line(remaining, time.time()))
                if remaining is None:
                    await asyncio.Event().wait()
                elif remaining > 0:
                    await asyncio.sleep(remaining)
            finally:
                api_task.cancel()  # an orderly uvicorn shutdown (see serve_api)
                with contextlib.suppress(asyncio.CancelledError):
                    await api_task
    finally:
        for node in nodes:
            node.stop()
        engine.dispose()
        broker.stop()
        influx.stop()
    return counts


def water_balance(estate: dict[str, Any]) -> dict[str, Any]:
    """The drought site's zones as FAO-56 water-balance zones, so its lines show ET0, Dr and
    the depth decided: the simulated soil's own limits and Kc, the valve's flow over the
    zone's area as application rate, and its probes (which send volumetric water content)
    calibrated 1:1 (θ = vwc_pct / 100)."""
    drought = {site for site, scenario in SITES.items() if scenario == "drought"}
    zones = []
    for z in estate["zones"]:
        if z["site"] in drought:
            z = {**z, "application_rate_mm_h": round(z["flow_lpm"] * 60.0 / z["area_m2"], 2),
                 "theta_fc": z["field_capacity_vwc_pct"] / 100.0,
                 "theta_wp": z["wilting_point_vwc_pct"] / 100.0,
                 "root_depth_m": z["root_depth_mm"] / 1000.0, "kc": z["kc"],
                 "irrigation_kind": "rotor", "efficiency": 0.9}
        zones.append(z)
    devices = [{**d, "calibration": {"kind": "poly", "coef": [0.0, 0.01]}}
               if d["site"] in drought and d.get("kind") == "soil" else d
               for d in estate["devices"]]
    return {**estate, "zones": zones, "devices": devices}


def summary(sessions: Any, ingest: IngestService, maint: MaintenanceService) -> dict[str, int]:
    with sessions() as session:
        def n(model: Any, *where: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*where))
                       or 0)

        return {
            "messages": ingest.stats.received,
            "points_written": ingest.stats.lines_written,
            "rejected": sum(ingest.stats.rejected.values()),
            "ticks": maint.ticks,
            "tasks": n(Task),
            "alerts": n(Alert),
            "valve_commands": n(Command),
            "valve_acks": n(Command, Command.state == "acked"),
        }


def uptime_line(remaining_s: float | None, now_s: float) -> str:
    """How long the API (and the services) stay up after the summary."""
    if remaining_s is None:
        return "the API and services stay up until Ctrl-C"
    if remaining_s <= 0:
        return "--duration reached: stopping the API and services now"
    until = time.strftime("%H:%M:%S", time.localtime(now_s + remaining_s))
    return (f"the API and services stay up {remaining_s:.0f} s more, until {until} "
            f"(--duration), then stop; Ctrl-C stops them sooner")


def open_tasks(sessions: Any, limit: int = 12) -> list[str]:
    """The crews' queue: open tasks, most urgent first, heritage trees first within a priority;
    the header says how many are shown of how many open."""
    with sessions() as session:
        is_open = Task.state.not_in(("closed", "cancelled"))
        total = int(session.scalar(select(func.count()).select_from(Task).where(is_open)) or 0)
        rows = session.scalars(select(Task).where(is_open)
                               .order_by(Task.priority, Task.heritage.desc(), Task.created_ms)
                               .limit(limit)).all()
        shown = (f"all {total}" if len(rows) == total
                 else f"{len(rows)} of {total}, the rest at /api/v1/tasks")
        return [f"open tasks ({shown}; priority, heritage first):"] + [
            f"  #{t.id:<3} p{t.priority} {t.kind:<12} {t.site}/{t.tree or t.zone or t.device}"
            f"{' (heritage)' if t.heritage else ''}: {t.title}" for t in rows]


def truth_line(truth: Any) -> str:
    """What really happened in a simulated run, to compare with the tasks above."""
    parts = []
    if truth.storm is not None:
        parts.append(f"storm peak mean wind {truth.storm.peak_mean_wind_ms:.0f} m/s")
    if truth.lean_steps:
        parts.append("lasting lean " + ", ".join(
            f"{t} {v.step_deg:.1f} deg" for t, v in truth.lean_steps.items()))
    if truth.failures:
        parts.append("fallen " + ", ".join(truth.failures))
    if truth.dry_zones:
        parts.append("dried below refill " + ", ".join(truth.dry_zones))
    return "; ".join(parts) or "nothing to act on"


async def caught_up(maint: MaintenanceService, timeout_s: float = 10.0) -> None:
    """Wait until analytics has taken every message the broker delivered to it."""
    deadline = time.monotonic() + timeout_s
    while maint.mqtt.inbox and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await maint.catch_up()  # the run is over: judge its last steps now
