"""Ingest throughput: greeniot ingest against a count-only paho client (the ceiling) and a
batched paho peer that writes InfluxDB and acks on receipt (the design Node-RED and most users
have), on the same broker and the same QoS 1 backlog; plus InfluxDB alone.

    .venv/bin/python benchmarks/ingest_throughput.py --messages 50000 --batched 2000

Two backlogs: ``--messages`` single-reading messages, then ``--batched`` messages of 50
readings each (an offline-buffer flush). The broker queues each backlog once for every
contender's persistent session; each contender then drains it as a process of its own, so its
peak RSS (``VmHWM``) and CPU seconds are its own:

- ``count-only``: paho, MQTT 3.1.1, manual acks in batches of 5000, counts and nothing else.
- ``peer``: paho acking on receipt, ``json.loads``, a line per reading, 5000-line batches
  POSTed to InfluxDB ``/write`` from a writer thread. Acking on receipt is what makes it lose
  data in a crash; it is here as the speed everyone else reaches.
- ``greeniot``: ``greeniot ingest`` as the CLI runs it (acks after the spool fsync, dead
  letters, ``stored`` confirmations, registry, metrics), from the receive time of its first
  message until InfluxDB has every line.
- ``influx-alone``: the very lines greeniot stores for the batched backlog (made by its own
  fast path, in its order), POSTed as greeniot's writer does: ``GREENIOT_INFLUX__BATCH_SIZE``
  lines per write, ``WRITES_IN_FLIGHT`` writes at once, uncompressed as greeniot writes to a
  loopback InfluxDB. What InfluxDB takes on this machine, the reference for batched messages.

``influxd CPU s`` is what the InfluxDB server spent while a contender ran. On these 2 shared
cores every contender competes with InfluxDB for the same CPU, so greeniot's batched rate is
bounded by ``influxd CPU (alone) / (influxd CPU + greeniot's CPU from its first message)``,
printed as ``CPU bound``. Readings carry values rounded as devices send them (vwc and
temperature to 0.1, volts to 0.01), varying over their ranges.

msgs/s and readings/s are over the first message received → last reading acked (count-only)
or stored (peer, greeniot). ``lost`` is readings sent less distinct (device, seq) stored
(count-only: messages not received). Prints the ratios against the targets of issue 13.
Starts its own Mosquitto and InfluxDB in a temp folder; machine load moves all contenders, so
compare the ratios.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

DEVICES = 100
PER_BATCH = 50
LINES_PER_WRITE = 5000
SITE = "bench"
FILTER = "greeniot/v1/+/+/soil"
KINDS = ("single", "batched")
#: More GREENIOT_* settings for the greeniot contender (``--env KEY=VALUE``).
EXTRA_ENV: dict[str, str] = {}


# -- the backlog ------------------------------------------------------------------------------
def reading(i: int, t0: int) -> dict[str, object]:
    """Reading ``i`` of the backlog: device ``i % DEVICES``, seq ``i // DEVICES``; values as
    devices round them, spread over their ranges (400 vwc, 250 temperature, 71 volt values)."""
    h = (i * 2654435761) % 4294967296  # a fixed scramble of i: values vary, runs repeat
    return {"v": 1, "seq": i // DEVICES, "ts_ms": t0 + i,
            "vwc_pct": round(5.0 + (h % 400) * 0.1, 1),
            "temp_c": round(5.0 + (h >> 9) % 250 * 0.1, 1),
            "bat_v": round(3.5 + (h >> 17) % 71 * 0.01, 2)}


def backlog(kind: str, n_msgs: int, t0: int) -> list[tuple[str, bytes]]:
    """(topic, payload) of ``n_msgs`` messages: one reading each, or ``PER_BATCH``."""
    out = []
    if kind == "single":
        for i in range(n_msgs):
            body = json.dumps(reading(i, t0), separators=(",", ":")).encode()
            out.append((f"greeniot/v1/{SITE}/soil-{i % DEVICES}/soil", body))
        return out
    # batched: message j carries PER_BATCH consecutive readings of one device
    for j in range(n_msgs):
        dev, rnd = j % DEVICES, j // DEVICES
        items = [reading((rnd * PER_BATCH + k) * DEVICES + dev, t0) for k in range(PER_BATCH)]
        body = json.dumps({"v": 1, "batch": items}, separators=(",", ":")).encode()
        out.append((f"greeniot/v1/{SITE}/soil-{dev}/soil", body))
    return out


def publish(port: int, items: list[tuple[str, bytes]]) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=paho.MQTTv311)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    for topic, payload in items:
        infos.append(c.publish(topic, payload, qos=1))
        if len(infos) == 20_000:  # stay well below the 65535 packet ids MQTT has
            for info in infos:
                info.wait_for_publish(120)
            infos.clear()
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def subscribe_session(port: int, client_id: str) -> None:
    """Create a persistent session so the backlog queues for it."""
    done = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=paho.MQTTv311)
    c.on_connect = lambda cl, *a: cl.subscribe(FILTER, qos=1)
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not done.wait(10):
        raise RuntimeError(f"no SUBACK for {client_id}")
    c.disconnect()
    c.loop_stop()


# -- what each contender reports ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Result:
    name: str
    kind: str
    msgs: int
    readings: int
    seconds: float
    rss_mb: float
    cpu_s: float
    lost: int
    influx_cpu_s: float = 0.0

    @property
    def msgs_s(self) -> float:
        return self.msgs / self.seconds

    @property
    def readings_s(self) -> float:
        return self.readings / self.seconds


def own_usage() -> tuple[float, float]:
    """(peak RSS [MB], CPU user+system [s]) of this process."""
    return peak_rss_mb(os.getpid()), sum(os.times()[:2])


def peak_rss_mb(pid: int) -> float:
    """``VmHWM`` (peak resident set) of a live process [MB]."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- contenders run as children of this script (``--child NAME``) ------------------------------
def child_count_only(port: int, n_msgs: int, **_: object) -> dict[str, float]:
    """paho, manual ack in batches of 5000, counting only: the ceiling for a Python consumer."""
    got = 0
    first = 0.0
    finished = threading.Event()
    pending: list[int] = []
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-count", clean_session=False,
                    protocol=paho.MQTTv311, manual_ack=True)

    def on_message(cl: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        nonlocal got, first
        if not got:
            first = time.perf_counter()
        got += 1
        pending.append(msg.mid)
        if len(pending) >= LINES_PER_WRITE or got >= n_msgs:
            for mid in pending:
                cl.ack(mid, 1)
            pending.clear()
        if got >= n_msgs:
            finished.set()

    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    finished.wait(600)
    took = time.perf_counter() - first
    c.disconnect()
    c.loop_stop()
    return {"received": got, "seconds": took}


def child_peer(port: int, n_msgs: int, influx: str, db: str, **_: object) -> dict[str, float]:
    """paho acking on receipt + json.loads + 5000-line batches to InfluxDB from a thread."""
    host, _, iport = influx.removeprefix("http://").partition(":")
    todo: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
    got = 0
    first = 0.0
    lines: list[str] = []
    conn0 = http.client.HTTPConnection(host, int(iport))
    conn0.request("POST", "/query", body=f"q=CREATE DATABASE {db}",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    conn0.getresponse().read()

    def writer() -> None:
        conn = http.client.HTTPConnection(host, int(iport))
        while (body := todo.get()) is not None:
            conn.request("POST", f"/write?db={db}&precision=ms", body=body)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 204:
                raise RuntimeError(f"influx {resp.status}")

    def to_line(device: str, r: dict[str, object]) -> str:
        return (f"soil,device={device},site={SITE} vwc_pct={float(r['vwc_pct'])!r},"  # type: ignore[arg-type]
                f"temp_c={float(r['temp_c'])!r},bat_v={float(r['bat_v'])!r},"  # type: ignore[arg-type]
                f"seq={r['seq']}i {r['ts_ms']}")

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        nonlocal got, first
        if not got:
            first = time.perf_counter()
        got += 1
        device = msg.topic.split("/")[3]
        obj = json.loads(msg.payload)
        for r in obj.get("batch", (obj,)):
            lines.append(to_line(device, r))
        if len(lines) >= LINES_PER_WRITE or got >= n_msgs:
            todo.put(("\n".join(lines) + "\n").encode())
            lines.clear()

    last_put = threading.Event()

    def on_message_then_flag(c: object, u: object, msg: paho.MQTTMessage) -> None:
        on_message(c, u, msg)
        if got >= n_msgs:
            last_put.set()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-peer", clean_session=False,
                    protocol=paho.MQTTv311)
    c.on_message = on_message_then_flag
    c.connect("127.0.0.1", port)
    c.loop_start()
    last_put.wait(600)
    todo.put(None)
    t.join()
    took = time.perf_counter() - first
    c.disconnect()
    c.loop_stop()
    return {"received": got, "seconds": took}


def child_influx_alone(influx: str, db: str, lines_file: str, **_: object) -> dict[str, float]:
    """Greeniot's lines POSTed as its writer does (batch size, writes at once, no gzip on
    loopback): InfluxDB's own rate here."""
    from greeniot.config import InfluxSettings
    from greeniot.ingest.writer import WRITES_IN_FLIGHT
    from greeniot.store.lineproto import PRECISION

    per = InfluxSettings().batch_size
    host, _, iport = influx.removeprefix("http://").partition(":")
    lines = Path(lines_file).read_bytes().splitlines(keepends=True)
    bodies = [b"".join(lines[i:i + per]) for i in range(0, len(lines), per)]
    conn0 = http.client.HTTPConnection(host, int(iport))
    conn0.request("POST", "/query", body=f"q=CREATE DATABASE {db}",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    conn0.getresponse().read()

    def write(part: list[bytes]) -> None:
        conn = http.client.HTTPConnection(host, int(iport))
        for body in part:
            conn.request("POST", f"/write?db={db}&precision={PRECISION}", body=body)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 204:
                raise RuntimeError(f"influx {resp.status}: {resp.read()[:200]!r}")

    threads = [threading.Thread(target=write, args=(bodies[k::WRITES_IN_FLIGHT],))
               for k in range(WRITES_IN_FLIGHT)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"received": len(lines), "seconds": time.perf_counter() - t0}


CHILDREN: dict[str, Callable[..., dict[str, float]]] = {
    "count-only": child_count_only, "peer": child_peer, "influx-alone": child_influx_alone,
}


#: The influxd process whose CPU seconds each contender is charged with (set in main).
INFLUXD: list[int] = []


def influxd_pid(shell_pid: int) -> int:
    """The influxd under the service's watchdog shell (or the pid itself)."""
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                st = (p / "stat").read_text()
            except OSError:
                continue
            if "(influxd)" in st and int(st.rsplit(")", 1)[1].split()[1]) == shell_pid:
                return int(p.name)
    return shell_pid


def run_child(name: str, **kw: object) -> dict[str, float]:
    c0 = cpu_s(INFLUXD[0]) if INFLUXD else 0.0
    proc = subprocess.run([sys.executable, __file__, "--child", name, json.dumps(kw)],
                          capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    out: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["influx_cpu_s"] = cpu_s(INFLUXD[0]) - c0 if INFLUXD else 0.0
    return out


def child_main(name: str, kw: str) -> None:
    res = CHILDREN[name](**json.loads(kw))
    res["rss_mb"], res["cpu_s"] = own_usage()
    print(json.dumps(res))


# -- greeniot ingest: the real process ----------------------------------------------------------
def child_greeniot(readings: int, msgs: int, env: dict[str, str], worker: int = 0,
                   **_: object) -> dict[str, float]:
    """``greeniot ingest`` as the CLI runs it (``run_ingest``: registry, bindings, metrics),
    timed from the receive time of its first message until InfluxDB has every line.

    The only instrumentation: ``IngestService.process`` is wrapped to find the service."""
    import asyncio

    from greeniot.cli import build_settings
    from greeniot.ingest.run import run_ingest
    from greeniot.ingest.service import IngestService

    os.environ.update(env)
    found: list[IngestService] = []
    first: list[float] = []
    process = IngestService.process

    cpu0: list[float] = []

    async def spy(self: IngestService, batch: list) -> None:  # type: ignore[type-arg]
        if not found:
            found.append(self)
            first.append(min(m.received_ms for m in batch) / 1000)
            cpu0.append(sum(os.times()[:2]))
        await process(self, batch)

    IngestService.process = spy  # type: ignore[method-assign]

    acked: list[float] = []

    async def main() -> float:
        task = asyncio.create_task(run_ingest(build_settings(), worker=worker))
        while not found or found[0].stats.lines_written < readings:
            if task.done():
                await task
                raise RuntimeError("greeniot ingest stopped")
            if not acked and found and found[0].stats.acked >= msgs:
                acked.append(time.time() - first[0])
            await asyncio.sleep(0.01)
        took = time.time() - first[0]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return took

    took = asyncio.run(main())
    return {"received": found[0].stats.received, "seconds": took,
            "acked_s": acked[0] if acked else took,
            "work_cpu_s": sum(os.times()[:2]) - cpu0[0]}


CHILDREN["greeniot"] = child_greeniot


def run_greeniot(tmp: Path, port: int, influx: str, db: str, readings: int, msgs: int,
                 client_id: str) -> dict[str, float]:
    env = {"GREENIOT_DATA_DIR": str(tmp / f"gi-{db}"),
           "GREENIOT_MQTT__PORT": str(port), "GREENIOT_MQTT__CLIENT_ID": client_id,
           "GREENIOT_INFLUX__URL": influx, "GREENIOT_INFLUX__DATABASE": db,
           "GREENIOT_LOG_LEVEL": "WARNING", **EXTRA_ENV}
    return run_child("greeniot", readings=readings, msgs=msgs, env=env)


def stored(influx: str, db: str) -> int:
    """Distinct (device, seq) stored in ``db`` (sum over devices of distinct seqs)."""
    q = "SELECT count(distinct(seq)) FROM soil GROUP BY device"
    r = httpx.get(f"{influx}/query", params={"db": db, "q": q}, timeout=120)
    return sum(s["values"][0][1] for s in r.json()["results"][0].get("series") or [])


# -- the run -----------------------------------------------------------------------------------
def run_kind(kind: str, n_msgs: int, rnd: int, broker_port: int, influx: str, tmp: Path,
             workers: int) -> list[Result]:
    per = 1 if kind == "single" else PER_BATCH
    readings = n_msgs * per
    t0 = int(time.time() * 1000) - readings - 60_000 * (1 + rnd)
    items = backlog(kind, n_msgs, t0)
    gi_id = f"bench-gi{rnd}{kind[0]}"
    gi_ids = [f"{gi_id}-ingest"] if workers == 1 else []
    for cid in ("bench-count", "bench-peer", *gi_ids):
        subscribe_session(broker_port, cid)
    tp = time.perf_counter()
    publish(broker_port, items)
    print(f"[{kind}] published {n_msgs} QoS 1 messages ({readings} readings) in "
          f"{time.perf_counter() - tp:.1f} s", flush=True)
    out = []
    r = run_child("count-only", port=broker_port, n_msgs=n_msgs)
    out.append(Result("count-only", kind, n_msgs, readings, r["seconds"], r["rss_mb"],
                      r["cpu_s"], n_msgs - int(r["received"])))
    db = f"peer_{kind}_{rnd}"
    r = run_child("peer", port=broker_port, n_msgs=n_msgs, influx=influx, db=db)
    out.append(Result("peer", kind, n_msgs, readings, r["seconds"], r["rss_mb"], r["cpu_s"],
                      readings - stored(influx, db), r["influx_cpu_s"]))
    db = f"gi_{kind}_{rnd}"
    if workers > 1:  # clean sessions in a shared group: they must be there as it arrives
        raise SystemExit("--workers > 1 needs live traffic, not a backlog (see docstring)")
    r = run_greeniot(tmp, broker_port, influx, db, readings, n_msgs, gi_id)
    print(f"[{kind}] greeniot: all {n_msgs} messages spooled and acked after "
          f"{r['acked_s']:.2f} s, all {readings} readings in InfluxDB after {r['seconds']:.2f} s;"
          f" CPU from its first message {r['work_cpu_s']:.2f} s "
          f"({r['work_cpu_s'] * 1e6 / readings:.1f} us per reading), influxd "
          f"{r['influx_cpu_s']:.2f} s", flush=True)
    out.append(Result("greeniot", kind, n_msgs, readings, r["seconds"], r["rss_mb"],
                      r["cpu_s"], readings - stored(influx, db), r["influx_cpu_s"]))
    gi_work = r["work_cpu_s"]
    if kind == "batched":
        lines = tmp / "alone.lp"
        lines.write_bytes(greeniot_lines(items))
        db = f"alone_{rnd}"
        r = run_child("influx-alone", influx=influx, db=db, lines_file=str(lines))
        out.append(Result("influx-alone", kind, 0, readings, r["seconds"], r["rss_mb"],
                          r["cpu_s"], readings - stored(influx, db), r["influx_cpu_s"]))
        bound = r["influx_cpu_s"] / (out[-2].influx_cpu_s + gi_work)
        print(f"[{kind}] CPU bound for greeniot / influx-alone: {bound:.2f} (influxd alone "
              f"{r['influx_cpu_s']:.2f} s; with greeniot {out[-2].influx_cpu_s:.2f} s + "
              f"greeniot {gi_work:.2f} s)", flush=True)
    return out


def greeniot_lines(items: list[tuple[str, bytes]]) -> bytes:
    """The lines greeniot stores for ``items``, in its order, made by its own fast path."""
    from greeniot.ingest.fastpath import FastDecoder
    from greeniot.store.lineproto import tag_suffix

    fast, out = FastDecoder(), []
    for topic, payload in items:
        got = fast.decode(topic, payload, 0, 1 << 62)
        if got is None:
            raise RuntimeError(f"the fast path does not take the backlog's {topic}")
        route, its = got
        route.code.lines(its, tag_suffix(route.site, route.device), 0, out)
    return ("\n".join(out) + "\n").encode()


def table(results: list[Result]) -> None:
    print(f"{'contender':13s} {'messages':8s} {'msgs/s':>9s} {'readings/s':>11s} "
          f"{'peak RSS MB':>11s} {'CPU s':>7s} {'influxd CPU s':>13s} {'lost':>6s}")
    for x in results:
        msgs = f"{x.msgs_s:9,.0f}" if x.msgs else f"{'-':>9s}"
        rss = f"{x.rss_mb:11.0f}" if x.name != "influx-alone" else f"{'-':>11s}"
        icpu = f"{x.influx_cpu_s:13.2f}" if x.name != "count-only" else f"{'-':>13s}"
        print(f"{x.name:13s} {x.kind:8s} {msgs} {x.readings_s:11,.0f} {rss} {x.cpu_s:7.1f} "
              f"{icpu} {x.lost:6d}")


def verdict(rounds: list[list[Result]]) -> bool:
    """Each ratio is the median over rounds of that round's ratio: the contenders of one round
    ran minutes apart under similar load, while rates swing ×2 between rounds here."""
    def get(res: list[Result], name: str, kind: str, attr: str) -> float:
        return float(getattr(next(x for x in res if x.name == name and x.kind == kind), attr))

    def ratio(a: tuple[str, str, str], b: tuple[str, str, str]) -> float:
        per_round = [get(res, *a) / get(res, *b) for res in rounds]
        return statistics.median(per_round)

    checks = [
        ("greeniot single / peer single (msgs/s)",
         ratio(("greeniot", "single", "msgs_s"), ("peer", "single", "msgs_s")), ">=", 1.5),
        ("greeniot single / count-only single (msgs/s)",
         ratio(("greeniot", "single", "msgs_s"), ("count-only", "single", "msgs_s")), ">=",
         0.8),
        ("greeniot batched / influx-alone (readings/s)",
         ratio(("greeniot", "batched", "readings_s"), ("influx-alone", "batched",
                                                       "readings_s")), ">=", 0.85),
        ("greeniot peak RSS [MB]",
         max(statistics.median(get(res, "greeniot", k, "rss_mb") for res in rounds)
             for k in KINDS), "<=", 100),
        ("greeniot lost", max(x.lost for res in rounds for x in res if x.name == "greeniot"),
         "<=", 0),
    ]
    ok = True
    for label, value, op, target in checks:
        met = value >= target if op == ">=" else value <= target
        ok &= met
        print(f"  {label:47s} {value:8.2f}  target {op} {target:<5g} "
              f"{'met' if met else 'NOT met'}")
    return ok


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000, help="single-reading messages")
    ap.add_argument("--batched", type=int, default=2_000, help=f"messages of {PER_BATCH}")
    ap.add_argument("--rounds", type=int, default=1, help="repeat; medians of the rounds' ratios")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--env", action="append", default=[], metavar="GREENIOT_X=VALUE",
                    help="a setting for the greeniot contender (repeatable)")
    args = ap.parse_args()
    EXTRA_ENV.update(kv.split("=", 1) for kv in args.env)
    from greeniot.services import InfluxProcess, MosquittoProcess

    rounds = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        broker = MosquittoProcess(tmp / "mq").start()
        influx = InfluxProcess(tmp / "influx").start()
        if influx.proc is not None:
            INFLUXD.append(influxd_pid(influx.proc.pid))
        try:
            for rnd in range(args.rounds):
                res = [x for kind, n in (("single", args.messages), ("batched", args.batched))
                       for x in run_kind(kind, n, rnd, broker.port, influx.url, tmp,
                                         args.workers)]
                table(res)
                rounds.append(res)
        finally:
            broker.stop()
            influx.stop()
    print(f"ratios (median over {len(rounds)} round(s) of each round's ratio):")
    return 0 if verdict(rounds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
