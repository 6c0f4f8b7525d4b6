"""What Mosquitto's own persistence settings cost and save at a kill -9 (Mosquitto 2.0.11).

    .venv/bin/python benchmarks/broker_persistence.py --messages 20000

For each setting: an offline persistent subscriber session, N QoS 1 messages published (the
broker PUBACKs each and queues it for the subscriber, so its in-memory store grows), the
publish rate, then kill -9 of the broker (no SIGUSR1 checkpoint), a restart on the same
store, and how many of the N the subscriber still receives. ``autosave_on_changes`` rewrites
the whole store every ``autosave_interval`` changes, so its cost grows with the backlog.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from greeniot.services import MosquittoProcess

SETTINGS: dict[str, list[str]] = {
    "autosave_interval 10 (shipped before)": ["autosave_interval 10"],
    "autosave_on_changes, every 1000 changes": ["autosave_on_changes true",
                                                "autosave_interval 1000"],
    "autosave_on_changes, every 100 changes": ["autosave_on_changes true",
                                               "autosave_interval 100"],
    "autosave_on_changes, every change": ["autosave_on_changes true", "autosave_interval 1"],
}


def client(cid: str, clean: bool = False) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean,
                    protocol=paho.MQTTv311)
    c.max_inflight_messages_set(0)
    c.max_queued_messages_set(0)
    return c


def subscribe_offline(port: int) -> None:
    done = threading.Event()
    c = client("bench-sub")
    c.on_connect = lambda cl, *a: cl.subscribe("bench/#", qos=1)
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def publish(port: int, n: int) -> float:
    c = client("bench-pub", clean=True)
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    infos = []
    for i in range(n):
        infos.append(c.publish(f"bench/{i % 100}", b'{"v":1,"seq":%d}' % i, qos=1))
        if len(infos) >= 20_000:
            for info in infos:
                info.wait_for_publish(300)
            infos.clear()
    for info in infos:
        info.wait_for_publish(300)
    rate = n / (time.perf_counter() - t0)
    c.disconnect()
    c.loop_stop()
    return rate


def received_after_restart(port: int, n: int) -> int:
    got: set[bytes] = set()
    last = [time.monotonic()]

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        got.add(bytes(msg.payload))
        last[0] = time.monotonic()

    c = client("bench-sub")
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    while len(got) < n and time.monotonic() - last[0] < 3:
        time.sleep(0.1)
    c.disconnect()
    c.loop_stop()
    return len(got)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--skip-every-change", action="store_true",
                    help="skip the setting that saves on every change (~80 msgs/s)")
    args = ap.parse_args()
    for name, extra in SETTINGS.items():
        if args.skip_every_change and name.endswith("every change"):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            broker = MosquittoProcess(Path(tmp))
            conf = broker.conf_path.read_text().replace("autosave_interval 10\n", "")
            broker.conf_path.write_text(conf + "\n".join(extra) + "\n")
            broker.start()
            subscribe_offline(broker.port)
            rate = publish(broker.port, args.messages)
            broker.kill()
            broker = MosquittoProcess(Path(tmp), port=broker.port)
            broker.conf_path.write_text(conf + "\n".join(extra) + "\n")
            broker.start()
            kept = received_after_restart(broker.port, args.messages)
            broker.stop()
        print(f"{name:42s} publish {rate:8,.0f} msgs/s   after kill -9: "
              f"{kept:6d}/{args.messages} kept, lost {args.messages - kept}", flush=True)


if __name__ == "__main__":
    main()
