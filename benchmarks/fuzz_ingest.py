"""Fuzz mix through the real ingest: good readings interleaved with invalid payloads of every
kind (tests/fuzzcases.py), against a clean run of good readings in the same process.

    .venv/bin/python benchmarks/fuzz_ingest.py --bad 10000 --good 10000

Checks: 0 crashes, 0 ``internal``, every bad payload dead-lettered with its documented reason,
every good reading stored (by device and seq). Prints msgs/s of both runs and the ratio
mix / clean (target >= 0.8). Starts its own Mosquitto and InfluxDB in a temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greeniot.config import InfluxSettings, MqttSettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.services import InfluxProcess, MosquittoProcess
from tests.fuzzcases import invalid, valid

READING = ("soil", "tilt", "weather", "valve", "ack")


def publish(port: int, items: list[tuple[str, bytes]]) -> None:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="fuzz-pub", protocol=paho.MQTTv311)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    for t, p in items:
        infos.append(c.publish(t, p, qos=1))
        if len(infos) >= 20_000:
            for i in infos:
                i.wait_for_publish(300)
            infos.clear()
    for i in infos:
        i.wait_for_publish(300)
    c.disconnect()
    c.loop_stop()


_OBSERVER = """
import json, sys, paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
out = open(sys.argv[2], "a", buffering=1)
c = paho.Client(CallbackAPIVersion.VERSION2, client_id="fuzz-dead", protocol=paho.MQTTv311)
c.on_connect = lambda cl, *a: cl.subscribe("greeniot/v1/_dead/#", qos=1)
c.on_subscribe = lambda *a: print("ready", flush=True)
def on_message(_c, _u, m):
    for d in json.loads(m.payload)["letters"]:
        out.write(json.dumps({"topic": d["topic"], "reason": d["reason"],
                              "size": len(json.dumps(d))}) + "\\n")
c.on_message = on_message
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_forever()
"""


class DeadLetters:
    """Records dead letters in a process of its own (as a real consumer would be), so its
    work does not compete with ingest for this process's GIL."""

    def __init__(self, port: int, path: Path) -> None:
        self.path = path
        path.touch()
        self.proc = subprocess.Popen([sys.executable, "-c", _OBSERVER, str(port), str(path)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("dead-letter observer did not subscribe")

    @property
    def items(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.path.read_text().splitlines()
                if line.endswith("}")]

    def clear(self) -> None:
        self.path.write_text("")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def good_items(site: str, n: int, r: random.Random, now: int) -> list[tuple[str, bytes, str]]:
    out = []
    for i in range(n):
        ch = READING[i % len(READING)]
        body = valid(r, ch, now)
        body["seq"] = i
        dev = f"g{i % 100}"
        out.append((f"greeniot/v1/{site}/{dev}/{ch}", json.dumps(body).encode(), ch))
    return out


def stored(url: str, db: str) -> int:
    total = 0
    for m in ("soil", "tilt", "weather", "valve", "ack"):
        r = httpx.get(f"{url}/query", params={"db": db, "q": f"SELECT count(seq) FROM {m}"})
        series = r.json()["results"][0].get("series") or []
        total += sum(s["values"][0][1] for s in series)
    return total


async def drain(s: Settings, n: int) -> tuple[float, IngestService]:
    """Time for ingest to take an n-message backlog (acked) and write it."""
    async with IngestService(s) as svc:
        t0 = time.perf_counter()
        while svc.stats.acked < n:
            await asyncio.sleep(0.01)
        took = time.perf_counter() - t0
        await svc.writer.flush(60)
    return took, svc


def one_run(name: str, mix: bool, args: argparse.Namespace, r: random.Random, now: int,
            broker: MosquittoProcess, influx: InfluxProcess, dead: DeadLetters
            ) -> tuple[float, bool]:
    """(msgs/s, all checks passed) of one run: clean (good only) or mix (good + bad)."""
    s = Settings(data_dir=Path(dead.path.parent) / name,
                 mqtt=MqttSettings(port=broker.port, client_id=f"fuzz-{name}"),
                 influx=InfluxSettings(url=influx.url, database=name))
    asyncio.run(drain(s, 0))  # the persistent session, so the backlog queues for it
    site = f"fuzz-{name}"
    n_good = args.good + (0 if mix else args.bad)
    items = [(t, p) for t, p, _ in good_items(site, n_good, r, now)]
    expect: dict[str, str] = {}
    batch_goods = 0
    if mix:
        bad = []
        for j in range(args.bad):
            ch = r.choice((*READING, "status"))
            payload, reason = invalid(r, ch, now)
            topic = f"greeniot/v1/{site}/b{j}/{ch}"
            expect[topic] = reason
            batch_goods += payload.startswith(b'{"v": 1, "batch"')
            bad.append((topic, payload))
        items = [x for pair in zip(items, bad, strict=True) for x in pair]
    dead.clear()
    publish(broker.port, items)
    took, svc = asyncio.run(drain(s, len(items)))
    rate = len(items) / took
    n_stored = stored(influx.url, name)
    print(f"{name:6s}: {len(items):6d} msgs in {took:5.2f} s = {rate:8,.0f} msgs/s; "
          f"stored {n_stored} of {n_good + batch_goods} good; rejected "
          f"{dict(svc.stats.rejected)}", flush=True)
    ok = n_stored == n_good + batch_goods and svc.stats.rejected.get("internal", 0) == 0
    if mix:
        deadline = time.monotonic() + 60
        while len(dead.items) < len(expect) and time.monotonic() < deadline:
            time.sleep(0.1)
        letters = dead.items
        got = {str(d["topic"]): str(d["reason"]) for d in letters}
        wrong = Counter((expect[t], got.get(t)) for t in expect if got.get(t) != expect[t])
        biggest = max(int(str(d["size"])) for d in letters)
        print(f"        dead letters: {len(got)} for {len(expect)} bad payloads; wrong or "
              f"missing reasons: {dict(wrong) or 0}; largest dead letter {biggest} bytes",
              flush=True)
        ok &= not wrong
    forget_session(broker.port, f"fuzz-{name}-ingest")
    return rate, ok


def forget_session(port: int, client_id: str) -> None:
    """End a run's persistent session, or it would queue every later run's messages."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                    protocol=paho.MQTTv311)
    c.connect("127.0.0.1", port)
    c.loop_start()
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bad", type=int, default=10_000)
    ap.add_argument("--good", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="clean/mix pairs; median ratio")
    args = ap.parse_args()
    r = random.Random(args.seed)
    now = int(time.time() * 1000)
    ok = True
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoProcess(Path(tmp) / "mq").start()
        influx = InfluxProcess(Path(tmp) / "influx").start()
        dead = DeadLetters(broker.port, Path(tmp) / "dead.jsonl")
        try:
            for rnd in range(args.rounds):
                clean, ok_clean = one_run(f"clean{rnd}", False, args, r, now, broker, influx,
                                          dead)
                mixed, ok_mix = one_run(f"mix{rnd}", True, args, r, now, broker, influx, dead)
                ok &= ok_clean and ok_mix
                ratios.append(mixed / clean)
        finally:
            dead.close()
            broker.stop()
            influx.stop()
    ratio = statistics.median(ratios)
    print(f"mix/clean throughput ratio: median {ratio:.2f} of "
          f"{', '.join(f'{x:.2f}' for x in ratios)} (target >= 0.8)")
    ok &= ratio >= 0.8
    print("OK" if ok else "FAILED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
