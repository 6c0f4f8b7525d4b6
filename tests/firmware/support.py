"""Helpers for the firmware tests: a decoding MQTT observer and micropython runners."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from greeniot.protocol import DOWN_CHANNELS, decode
from greeniot.services.firmware import find_firmware_dir, find_micropython

FIRMWARE = find_firmware_dir()
HEAPSIZE = "128k"


def run_micropython(script: Path, *args: str, env: dict[str, str] | None = None,
                    timeout_s: float = 60.0, heapsize: str = HEAPSIZE
                    ) -> subprocess.CompletedProcess[str]:
    """Run a script under ``micropython -X heapsize=128k`` and capture its output."""
    return subprocess.run(
        [find_micropython(), "-X", f"heapsize={heapsize}", str(script), *args],
        capture_output=True, text=True, timeout=timeout_s, cwd=FIRMWARE,
        env={**os.environ, **(env or {})}, check=False,
    )


class Observer:
    """A paho subscriber on ``greeniot/v1/{site}/#`` that decodes everything it receives.

    ``persistent=True`` uses a fixed client id with clean_session=False and QoS 1, so messages
    published while it reconnects after a broker restart are queued for it, not lost.
    Every device message is run through ``greeniot.protocol.decode``; ``rejections`` must stay
    empty (the firmware only ever sends what the backend accepts).
    """

    def __init__(self, port: int, site: str, *, persistent: bool = False) -> None:
        self.site = site
        self.raw: list[tuple[str, bytes, bool]] = []
        self.rejections: list[tuple[str, bytes, Any]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"obs-{site}" if persistent else "",
            clean_session=not persistent, protocol=paho.MQTTv311)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(f"greeniot/v1/{site}/#", 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("observer could not subscribe")

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.raw.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            if msg.topic.rsplit("/", 1)[-1] not in DOWN_CHANNELS:  # judge what devices send
                dec = decode(msg.topic, msg.payload)
                if dec.rejections:
                    self.rejections.append((msg.topic, msg.payload, dec.rejections))

    def payloads(self, device: str, channel: str) -> list[dict[str, Any]]:
        """Items received on a device channel, batches flattened, as plain dicts."""
        out: list[dict[str, Any]] = []
        suffix = f"/{device}/{channel}"
        with self._lock:
            msgs = [p for t, p, _ in self.raw if t.endswith(suffix)]
        for p in msgs:
            obj = json.loads(p)
            out.extend(obj.get("batch", [obj]))
        return out

    def messages(self, device: str, channel: str) -> list[bytes]:
        suffix = f"/{device}/{channel}"
        with self._lock:
            return [p for t, p, _ in self.raw if t.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def checkpoint_broker(broker: Any, timeout_s: float = 10.0) -> None:
    """Make Mosquitto write its persistence file now (SIGUSR1), so a SIGKILL keeps sessions."""
    db = Path(broker.workdir) / "mosquitto.db"
    before = db.stat().st_mtime_ns if db.exists() else 0
    os.kill(broker.proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while not (db.exists() and db.stat().st_mtime_ns != before):
        if time.monotonic() > deadline:
            raise AssertionError("mosquitto did not write its persistence file")
        time.sleep(0.05)
    time.sleep(0.2)  # let the write finish (mosquitto writes then renames; cheap insurance)


def seqs(items: list[dict[str, Any]]) -> list[int]:
    return sorted({int(i["seq"]) for i in items})
