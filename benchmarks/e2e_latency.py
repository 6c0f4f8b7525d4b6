"""End to end: a fallen tree's reading → the crew's alert, with and without 10k msgs/s of
other traffic.

    .venv/bin/python benchmarks/e2e_latency.py                        # 10 sites x 20 trees
    .venv/bin/python benchmarks/e2e_latency.py --rate 10000 --steps 100 --interval 300

Real parts, in a temp folder: Mosquitto and InfluxDB as children, ``greeniot ingest`` as a
child process, the maintenance process (analytics + actions, ``MaintenanceService``) in this
process on a SQLite registry with a signed-webhook route to a local receiver (the crew's
phone), a background publisher in a child process. Each tree's node reports every
``--interval`` seconds on its own phase (as 5-min nodes do: a site's clock, the median of its
devices' newest timestamps, lags wall time by about half an interval); 30 h of calm history
per tree lie in InfluxDB, so warm start gives every tree its baseline.

A *step* is a tree that falls: two consecutive readings at 35 deg (failure needs two past
10 deg, analytics/params.py ``failure_min_samples``); its latency runs from the publish of the
second, confirming reading to the arrival of its failure alert at the receiver. Two phases of
one interval each, in the same run: ``baseline`` (no other traffic), then ``loaded`` (the
background publisher sends soil readings of ``--bg-devices`` other devices on other sites at
``--rate`` msgs/s, QoS 1, through the same broker, ingest and maintenance process). Printed:
the load each phase ran under (achieved publish rate, what ingest and analytics took),
p50/p95/p99/max against the 2 s target, and steps that never arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greeniot.config import AnalyticsSettings, InfluxSettings, MqttSettings, Settings
from greeniot.protocol import TiltReading
from greeniot.registry import crud
from greeniot.registry.context import seed
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import open_registry, read_context
from greeniot.services import InfluxProcess, MosquittoProcess
from greeniot.services.process import free_port
from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import tag_suffix, to_lines
from tests.actions.receivers import serve_posts
from tests.ingest.faultkit import IngestProcess

INGESTED = "greeniot_ingest_messages_received_total"
SECRET = "bench-secret-0123456789"
FALLEN_DEG = 35.0
TARGET_S = 2.0
HISTORY_H = 30


class Receiver:
    """The crew's phone: a signed-webhook endpoint that notes when each tree's failure
    alert arrived [wall s]."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.server, self.url = serve_posts(self._post)

    def _post(self, body: bytes, _headers: dict[str, str]) -> None:
        now = time.time()
        for item in json.loads(body).get("items", []):
            a = item.get("alert") or {}
            if a.get("kind") == "failure" and a.get("tree"):
                self.arrived.setdefault(a["tree"], now)


@dataclass(slots=True)
class Node:
    site: str
    device: str
    tree: str
    phase_s: float
    seq: int = 0
    fall_at: int = -1  # phase of the confirming fallen reading (-1: stands)
    confirm_sent: float = 0.0  # wall time the confirming reading was published


@dataclass(slots=True)
class Phase:
    name: str
    steps: list[Node] = field(default_factory=list)
    published: int = 0
    pub_s: float = 0.0
    span_s: float = 0.0
    ingest: float = 0.0
    analytics: int = 0


def background(port: int, rate: float, devices: int, sites: int, stop: Any, out: Any) -> None:
    """Child process: soil readings of ``devices`` devices on ``sites`` other sites at
    ``rate`` msgs/s, QoS 1, paced every 10 ms; puts (published, seconds) on ``out``."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bg", protocol=paho.MQTTv311)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    topics = [f"greeniot/v1/bg{d % sites}/soil-bg{d}/soil" for d in range(devices)]
    seqs = [0] * devices
    sent, t0, d = 0, time.monotonic(), 0
    infos: list[Any] = []
    while not stop.is_set():
        due = int((time.monotonic() - t0) * rate) - sent
        if due <= 0:
            time.sleep(0.005)
            continue
        ts = int(time.time() * 1000)
        for _ in range(min(due, 2000)):
            seqs[d] += 1
            infos.append(c.publish(topics[d], (
                f'{{"v":1,"seq":{seqs[d]},"ts_ms":{ts},"vwc_pct":{25 + d % 10}.5,'
                f'"bat_v":3.9}}').encode(), qos=1))
            sent += 1
            d = (d + 1) % devices
        if len(infos) > 20_000:
            for info in infos[:10_000]:
                info.wait_for_publish(60)
            del infos[:10_000]
    for info in infos:
        info.wait_for_publish(60)
    out.put((sent, time.monotonic() - t0))
    c.disconnect()
    c.loop_stop()


def tilt_payload(node: Node, ts_ms: int, fallen: bool, rng: random.Random) -> bytes:
    node.seq += 1
    pitch = FALLEN_DEG if fallen else 0.2 + rng.gauss(0, 0.01)
    return (f'{{"v":1,"seq":{node.seq},"ts_ms":{ts_ms},"pitch_deg":{pitch:.3f},'
            f'"roll_deg":{-0.1 + rng.gauss(0, 0.01):.3f},"temp_c":20.0}}').encode()


async def write_history(influx: InfluxClient, nodes: list[Node], t0_ms: int,
                        interval_ms: int, rng: random.Random) -> None:
    """30 h of calm readings per node on its schedule, up to now (the warm start reads up
    to its start); a node that falls in the first phase has its newest one fallen."""
    lines: list[str] = []
    now = int(time.time() * 1000)
    for n in nodes:
        first = t0_ms + int(n.phase_s * 1000)  # its first live reading
        last = first - interval_ms * -(-(first - now) // interval_ms)  # before now
        for k in range(HISTORY_H * 3_600_000 // interval_ms, -1, -1):
            ts = last - k * interval_ms
            n.seq += 1
            fallen = k == 0 and n.fall_at == 0
            msg = TiltReading(seq=n.seq, ts_ms=ts,
                              pitch_deg=FALLEN_DEG if fallen else 0.2 + rng.gauss(0, 0.01),
                              roll_deg=-0.1 + rng.gauss(0, 0.01), temp_c=20.0)
            lines += to_lines(msg, tag_suffix(n.site, n.device, {"tree": n.tree}), ts)
    await influx.ensure_database()
    for i in range(0, len(lines), 5000):
        await influx.write("\n".join(lines[i:i + 5000]).encode(), precision="u")


def scrape(port: int, name: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return float("nan")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name))


def percentiles(lat: list[float]) -> tuple[float, float, float, float]:
    if not lat:
        return (float("nan"),) * 4  # type: ignore[return-value]
    a = np.asarray(lat)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return float(p50), float(p95), float(p99), float(a.max())


async def run_phases(args: argparse.Namespace, root: Path
                     ) -> tuple[list[Phase], dict[str, float]]:
    rng = random.Random(args.seed)
    broker = MosquittoProcess(root / "mosquitto")
    influx_p = InfluxProcess(root / "influxdb")
    broker.start()
    influx_p.start()
    db = "latency"
    receiver = Receiver()
    ingest: IngestProcess | None = None
    bg_proc: Any = None
    try:
        settings = Settings(data_dir=root / "registry",
                            mqtt=MqttSettings(port=broker.port, client_id="latency"),
                            influx=InfluxSettings(url=influx_p.url, database=db),
                            analytics=AnalyticsSettings(tick_s=args.tick_s,
                                                        lookout=not args.no_lookout))
        interval_ms = int(args.interval * 1000)
        nodes = [Node(f"s{i}", f"tilt-s{i}-{j}", f"t-s{i}-{j}",
                      phase_s=rng.uniform(0, args.interval))
                 for i in range(args.sites) for j in range(args.trees)]
        if 2 * args.steps > len(nodes):
            raise SystemExit(f"--steps {args.steps}: at most half the trees "
                             f"({len(nodes) // 2}) may fall")
        # a baseline step confirms before the load starts; a loaded one one interval later
        early = [n for n in nodes if n.phase_s < args.interval - args.warmup - 5]
        first = rng.sample(early, min(args.steps, len(early)))
        rest = [n for n in nodes if n not in first]
        phases = [Phase("baseline", first), Phase("loaded", rng.sample(rest, args.steps))]
        for k, ph in enumerate(phases):
            for n in ph.steps:
                n.fall_at = k  # the first fallen reading: stored (k=0) or in phase k-1
        engine, sessions = open_registry(settings)
        with sessions() as s:
            seed(s, sites=[{"id": f"s{i}", "name": f"s{i}"} for i in range(args.sites)],
                 trees=[{"site": n.site, "tree": n.tree} for n in nodes],
                 devices=[{"site": n.site, "device": n.device, "kind": "tilt",
                           "tree": n.tree} for n in nodes])
            crud.add_route(s, name="crew", kind="webhook", target=receiver.url,
                           secret=SECRET, min_severity="critical", rate_max=100_000,
                           rate_window_s=60)
        ctx = read_context(sessions)
        t0_ms = int(time.time() * 1000) + 45_000  # time to start ingest and analytics
        client = InfluxClient(settings.influx)
        await write_history(client, nodes, t0_ms, interval_ms, rng)
        metrics_port = free_port()
        env = {"GREENIOT_DATA_DIR": str(root / "ingest"),
               "GREENIOT_MQTT__PORT": str(broker.port), "GREENIOT_MQTT__CLIENT_ID": "latency",
               "GREENIOT_INFLUX__URL": influx_p.url, "GREENIOT_INFLUX__DATABASE": db,
               "GREENIOT_METRICS__HOST": "127.0.0.1",
               "GREENIOT_METRICS__PORT": str(metrics_port),
               "GREENIOT_LOG_LEVEL": "INFO", "PATH": os.environ.get("PATH", "")}
        ingest = IngestProcess(root / "ingest", env)
        ingest.start()
        def show(o: Any) -> None:
            if args.verbose:
                print(f"{time.time():.3f} {o}", file=sys.stderr)

        async with MaintenanceService(settings, ctx, sessions, influx=client,
                                      on_outcome=show) as svc:
            svc.feed.urgent = not args.no_urgent
            # wait for the live start; the readings of every node follow its own phase
            await asyncio.sleep(max(0.0, t0_ms / 1000 - time.time()))
            pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-trees",
                              protocol=paho.MQTTv311)
            pub.max_inflight_messages_set(0)
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            stop = mp.Event()
            out: Any = mp.Queue()
            baseline, loaded = phases
            load_from = t0_ms / 1000 + args.interval - args.warmup
            marks: dict[str, tuple[float, float, int]] = {}  # phase → wall, ingest, readings

            def mark(name: str) -> None:
                marks[name] = (time.time(), scrape(metrics_port, INGESTED),
                               svc.feed.stats.readings)

            def close(ph: Phase) -> None:
                w, ing, rd = marks[ph.name]
                ph.span_s = time.time() - w
                ph.ingest = scrape(metrics_port, INGESTED) - ing
                ph.analytics = svc.feed.stats.readings - rd

            mark("baseline")
            order = sorted(nodes, key=lambda n: n.phase_s)
            k = 0
            end = t0_ms / 1000 + 2 * args.interval + args.grace
            while time.time() < end:  # every node reports on its schedule, all along
                for n in order:
                    ts = t0_ms + k * interval_ms + int(n.phase_s * 1000)
                    await asyncio.sleep(max(0.0, ts / 1000 - time.time()))
                    if bg_proc is None and k == 0 and time.time() >= load_from:
                        close(baseline)
                        if args.rate > 0:
                            bg_proc = mp.Process(target=background, args=(
                                broker.port, args.rate, args.bg_devices, args.bg_sites,
                                stop, out), daemon=True)
                            bg_proc.start()
                        mark("loaded")
                    # down from the reading before the confirming one (reading fall_at) on
                    fallen = n.fall_at >= 0 and k >= n.fall_at - 1
                    payload = tilt_payload(n, ts, fallen, rng)
                    if n.fall_at == k:
                        n.confirm_sent = time.time()
                    pub.publish(f"greeniot/v1/{n.site}/{n.device}/tilt", payload, qos=1)
                    if time.time() >= end or (k >= 2 and all(
                            m.tree in receiver.arrived for m in loaded.steps)):
                        end = 0.0
                        break
                k += 1
            close(loaded)
            st = svc.feed.stats
            print(f"feed: {st.urgent} failures raised ahead of their pass, {st.peeked} tilt "
                  f"readings from the lookout, {st.readings} taken in turn")
            if args.verbose:
                print(f"end: {svc.liveness()}", file=sys.stderr)
            if bg_proc is not None:
                stop.set()
                loaded.published, loaded.pub_s = out.get(timeout=120)
                bg_proc.join(30)
                bg_proc = None
            pub.disconnect()
            pub.loop_stop()
        engine.dispose()
        return phases, dict(receiver.arrived)
    finally:
        if bg_proc is not None:
            bg_proc.kill()
        if ingest is not None:
            ingest.stop()
        receiver.server.shutdown()
        influx_p.stop()
        broker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=10, help="sites with trees")
    ap.add_argument("--trees", type=int, default=20, help="trees (tilt nodes) per site")
    ap.add_argument("--steps", type=int, default=50, help="trees that fall, per phase")
    ap.add_argument("--interval", type=float, default=300.0, help="reporting interval [s]")
    ap.add_argument("--tick-s", type=float, default=60.0, help="analytics tick [s]")
    ap.add_argument("--rate", type=float, default=10_000.0, help="background msgs/s")
    ap.add_argument("--bg-devices", type=int, default=2000)
    ap.add_argument("--bg-sites", type=int, default=20)
    ap.add_argument("--warmup", type=float, default=20.0,
                    help="seconds of background load before the loaded phase's steps")
    ap.add_argument("--grace", type=float, default=None,
                    help="seconds to wait for the last alerts (default: 2 intervals)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--verbose", action="store_true", help="print every outcome")
    ap.add_argument("--no-lookout", action="store_true",
                    help="without the analytics lookout (tilt waits for its turn behind the "
                         "other traffic: GREENIOT_ANALYTICS__LOOKOUT=false)")
    ap.add_argument("--no-urgent", action="store_true",
                    help="without the feed's urgent lane (failures wait for their pass)")
    args = ap.parse_args()
    if args.grace is None:
        args.grace = 2 * args.interval + 60
    with tempfile.TemporaryDirectory(prefix="greeniot-latency-") as tmp:
        phases, arrived = asyncio.run(run_phases(args, Path(tmp)))
    return report(args, phases, arrived)


def report(args: argparse.Namespace, phases: list[Phase], arrived: dict[str, float]) -> int:
    print(f"command: {' '.join(sys.argv)}")
    print(f"urgent lane: {'off' if args.no_urgent else 'on'}; lookout: "
          f"{'off' if args.no_lookout else 'on'}")
    print(f"estate: {args.sites} sites x {args.trees} tilt nodes reporting every "
          f"{args.interval:.0f} s, analytics tick {args.tick_s:.0f} s; {args.steps} falls "
          f"per phase; background: {args.bg_devices} soil nodes on {args.bg_sites} other sites")
    print("| phase | background target msgs/s | achieved publish msgs/s | ingest msgs/s | "
          "analytics readings/s | steps | arrived | p50 s | p95 s | p99 s | max s | "
          f"p99 <= {TARGET_S:.0f} s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for ph in phases:
        lat = [arrived[n.tree] - n.confirm_sent for n in ph.steps
               if n.tree in arrived]
        p50, p95, p99, mx = percentiles(lat)
        met = len(lat) == len(ph.steps) and p99 <= TARGET_S
        ok &= met
        target = args.rate if ph.name == "loaded" else 0.0
        achieved = ph.published / ph.pub_s if ph.pub_s else 0.0
        print(f"| {ph.name} | {target:,.0f} | {achieved:,.0f} | {ph.ingest / ph.span_s:,.1f} | "
              f"{ph.analytics / ph.span_s:,.1f} | {len(ph.steps)} | {len(lat)} | {p50:.2f} | "
              f"{p95:.2f} | {p99:.2f} | {mx:.2f} | {'met' if met else 'NOT met'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
