"""Scale-out on one machine: two ingest workers and two analytics shards share one estate.

    .venv/bin/python benchmarks/scale_out.py                   # 12 sites, 12 h of readings
    .venv/bin/python benchmarks/scale_out.py --sites 40 --hours 24 --scenario typhoon

Real Mosquitto and InfluxDB in a temp folder; two ``greeniot ingest`` processes in one shared
subscription group (``GREENIOT_MQTT__SHARE_GROUP``); two analytics shards
(``MaintenanceService`` with ``GREENIOT_ANALYTICS__SHARD`` = a and b, in this process, on one
SQLite registry) that learn each other from the retained membership topic before the estate
starts. A simulated estate of ``--sites`` sites (seeded) is published with end-to-end
confirmations, as fast as the broker takes it.

Printed: readings taken by each ingest worker (its own ``/metrics``), lost and duplicated
readings by (site, device, seq) in InfluxDB; sites each shard judged, sites judged by both
shards or by none, and detector passes (site, step) that ran in both (all three must be 0);
tasks opened. Exit status 1 when anything was lost, duplicated or judged twice.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greeniot.analytics.contract import TickResult
from greeniot.config import InfluxSettings, MqttSettings, Settings
from greeniot.registry.context import seed
from greeniot.registry.models import Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.services import InfluxProcess, MosquittoProcess
from greeniot.services.process import free_port
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import run
from tests.ingest.faultkit import IngestProcess

MEASUREMENTS_WITH_SEQ = ("soil", "tilt", "weather", "valve", "ack")
Due = Callable[[int], Iterator[tuple[str, int, TickResult]]]


def recording(due: Due, passes: collections.Counter[tuple[str, int]]) -> Due:
    """``feed.due`` that also counts each (site, step) it runs: the proof of "judged once"."""

    def wrapped(wall_ms: int) -> Iterator[tuple[str, int, TickResult]]:
        for site, now_ms, result in due(wall_ms):
            passes[(site, now_ms)] += 1
            yield site, now_ms, result

    return wrapped


def scrape(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def stored(influx_url: str, db: str) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str],
                                                                                int]]:
    """Per (site, device): (distinct seqs stored, points stored) over the seq channels."""
    distinct: dict[tuple[str, str], int] = collections.Counter()
    points: dict[tuple[str, str], int] = collections.Counter()
    for m in MEASUREMENTS_WITH_SEQ:
        q = (f'SELECT count(distinct("seq")) AS n FROM "{m}" GROUP BY "site", "device"; '
             f'SELECT count("seq") AS n FROM "{m}" GROUP BY "site", "device"')
        res = httpx.get(f"{influx_url}/query", params={"db": db, "q": q}, timeout=60).json()
        for target, r in zip((distinct, points), res["results"], strict=True):
            for s in r.get("series", []) or []:
                key = (s["tags"]["site"], s["tags"]["device"])
                target[key] += int(s["values"][0][1])
    return distinct, points


async def main_async(args: argparse.Namespace, root: Path) -> int:
    broker = MosquittoProcess(root / "mosquitto")
    influx = InfluxProcess(root / "influxdb")
    broker.start()
    influx.start()
    db = "scale"
    workers: list[IngestProcess] = []
    try:
        fleet = Fleet.generate(sites=args.sites, trees_per_site=args.trees, zones_per_site=2,
                               seed=args.seed)
        settings = Settings(data_dir=root / "registry",
                            mqtt=MqttSettings(port=broker.port, client_id="scale"),
                            influx=InfluxSettings(url=influx.url, database=db))
        engine, sessions = open_registry(settings)
        with sessions() as s:
            seed(s, **fleet.registry())
        ctx = read_context(sessions)
        ports = [free_port() for _ in range(2)]
        for i, port in enumerate(ports):
            env = {"GREENIOT_DATA_DIR": str(root / f"ingest-{i}"),
                   "GREENIOT_MQTT__PORT": str(broker.port),
                   "GREENIOT_MQTT__CLIENT_ID": "scale", "GREENIOT_MQTT__SHARE_GROUP": "ingest",
                   "GREENIOT_INFLUX__URL": influx.url, "GREENIOT_INFLUX__DATABASE": db,
                   "GREENIOT_METRICS__HOST": "127.0.0.1", "GREENIOT_METRICS__PORT": str(port),
                   "GREENIOT_LOG_LEVEL": "INFO", "PATH": os.environ.get("PATH", "")}
            w = IngestProcess(root / f"ingest-{i}", env, worker=i)
            w.start()
            workers.append(w)

        def shard(name: str) -> MaintenanceService:
            s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
                update={"shard": name, "tick_s": 300.0})})
            return MaintenanceService(s, ctx, sessions)

        passes = {"a": collections.Counter[tuple[str, int]](),
                  "b": collections.Counter[tuple[str, int]]()}
        async with shard("a") as a, shard("b") as b:
            shards = {"a": a, "b": b}
            deadline = time.monotonic() + 30
            while not all(len(svc.shards.members) == 2 for svc in shards.values()
                          if svc.shards is not None):
                if time.monotonic() > deadline:
                    raise SystemExit("the two shards did not learn each other within 30 s")
                await asyncio.sleep(0.1)
            for name, svc in shards.items():
                svc.feed.due = recording(svc.feed.due, passes[name])  # type: ignore[method-assign,assignment]
            t0 = time.monotonic()
            result = await run(args.scenario, fleet, port=broker.port,
                               span_s=args.hours * 3600, speed=None, step_s=300,
                               seed=args.seed, client_id_prefix="sim-scale",
                               confirm_resend_s=10.0)
            sent_s = time.monotonic() - t0
            want = result.seq_counts
            deadline = time.monotonic() + 300
            while True:
                distinct, points = stored(influx.url, db)
                if all(distinct.get(k, 0) >= n for k, n in want.items()):
                    break
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            for svc in shards.values():
                await svc.catch_up()
            taken = [scrape(p, "greeniot_ingest_messages_received_total") for p in ports]
            owned = {name: set(svc.feed.sites) for name, svc in shards.items()}
        with sessions() as s:
            tasks = s.query(Task).count()
        engine.dispose()
    finally:
        for w in workers:
            w.stop()
        influx.stop()
        broker.stop()

    lost = sum(max(0, n - distinct.get(k, 0)) for k, n in want.items())
    duplicated = sum(points[k] - distinct[k] for k in points)
    sites = {s.site for s in fleet.sites}
    both = owned["a"] & owned["b"]
    none = sites - owned["a"] - owned["b"]
    twice = set(passes["a"]) & set(passes["b"])
    print(f"estate: {args.sites} sites, {len(fleet.devices())} devices, {args.hours} h of "
          f"{args.scenario}; {sum(want.values())} readings sent in {sent_s:.1f} s "
          f"({sum(want.values()) / sent_s:,.0f} readings/s)")
    print("| part | measure | value |\n|---|---|---|")
    for i, n in enumerate(taken):
        print(f"| ingest worker {i} | messages taken | {n:,.0f} ({n / max(1, sum(taken)):.0%}) |")
    print(f"| ingest | lost / duplicated readings by (site, device, seq) | {lost} / "
          f"{duplicated} |")
    for name in ("a", "b"):
        print(f"| analytics shard {name} | sites judged / detector passes | "
              f"{len(owned[name])} / {sum(passes[name].values())} |")
    print(f"| analytics | sites judged by both / by none | {len(both)} / {len(none)} |")
    print(f"| analytics | (site, step) passes run by both shards | {len(twice)} |")
    print(f"| registry | tasks opened | {tasks} |")
    return 1 if lost or duplicated or both or none or twice else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=12)
    ap.add_argument("--trees", type=int, default=4, help="trees per site")
    ap.add_argument("--hours", type=float, default=12.0, help="simulated span per site")
    ap.add_argument("--scenario", default="calm", choices=("calm", "drought", "typhoon"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="greeniot-scale-") as tmp:
        return asyncio.run(main_async(args, Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
