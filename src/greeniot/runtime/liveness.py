"""Liveness of the analytics processes, carried by the broker: what each one publishes, and how
a reader (the API's ``/health``) judges it.

Each analytics process (one per shard) keeps a retained JSON document on
``greeniot/v1/_health/analytics`` (``…/analytics-{shard}`` for a shard), republished every
``GREENIOT_ANALYTICS__HEALTH_EVERY_S`` by a task beside its processing loop, so a loop that
died or hangs shows as ``failing`` rather than silent. The broker itself turns a crash into
``down``: the document is also the last will of the process's MQTT session. A clean stop
writes ``stopped``. A document older than :data:`STALE_AFTER` publications means the process
is hung or cut off from the broker (``stale``).

Why the broker and not a heartbeat row in the registry: it needs no schema, the last will
reports a ``kill -9`` at once instead of after a timeout, and the API process already holds a
broker session (for valve commands); it only subscribes to these topics, read-only. The topic
has four levels, so device filters (``+/+/{channel}``, five) never match it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from greeniot.protocol.topics import ROOT
from greeniot.transport.mqtt import MqttSession

HEALTH_PREFIX = f"{ROOT}/_health/"
HEALTH_FILTER = f"{HEALTH_PREFIX}+"
#: Missed publications after which a process is ``stale``.
STALE_AFTER = 3

State = Literal["ok", "failing", "stale", "down", "stopped"]
#: States that make health ``degraded``; ``stopped`` only when no process is ``ok`` (a shard
#: taken out of a group on purpose hands its sites to the others).
BAD_STATES = frozenset({"failing", "stale", "down"})


def process_name(shard: str) -> str:
    return f"analytics-{shard}" if shard else "analytics"


def health_topic(shard: str) -> str:
    """The retained liveness topic of the analytics process of ``shard`` ('' = unsharded)."""
    return HEALTH_PREFIX + process_name(shard)


def down_payload() -> bytes:
    """The last will: the broker publishes it when the connection drops without a goodbye."""
    return json.dumps({"state": "down", "alive": False}).encode()


@dataclass(frozen=True, slots=True)
class ProcessHealth:
    """One analytics process as a reader judges it."""

    name: str
    state: State
    reason: str
    heartbeat_age_s: float | None = None
    restarts: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    ticks: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    #: ``ok``, or why not (naming the processes)
    summary: str
    processes: tuple[ProcessHealth, ...]


def judge(name: str, doc: dict[str, Any], now_ms: int) -> ProcessHealth:
    """The state of one process from its newest liveness document."""
    state = doc.get("state")
    if state == "down":
        return ProcessHealth(name, "down", f"{name} is down: its broker connection dropped "
                             "without a clean stop (crashed or killed)")
    counts: dict[str, Any] = {
        "restarts": int(doc.get("restarts") or 0),
        "failed": {str(k): int(v) for k, v in dict(doc.get("failed") or {}).items()},
        "ticks": int(doc.get("ticks") or 0)}
    beat = int(doc.get("heartbeat_ms") or 0)
    age = round((now_ms - beat) / 1000, 1) if beat else None
    if state == "stopped":
        return ProcessHealth(name, "stopped", f"{name} was stopped", age, **counts)
    every_s = float(doc.get("every_s") or 10.0)
    published = int(doc.get("published_ms") or 0)
    since_s = (now_ms - published) / 1000
    if since_s > STALE_AFTER * every_s:
        return ProcessHealth(name, "stale", f"{name} is stale: no liveness for {since_s:.0f} s "
                             f"(expected every {every_s:g} s): hung or cut off from the broker",
                             age, **counts)
    if not doc.get("alive"):
        beat_txt = f"{age:.0f} s ago" if age is not None else "never"
        return ProcessHealth(name, "failing", f"{name} is failing: its processing loop last "
                             f"ran {beat_txt} (restarts {counts['restarts']})", age, **counts)
    return ProcessHealth(name, "ok", "ok", age, **counts)


class LivenessBoard:
    """The newest liveness document per analytics process (``observe`` may be called from
    another thread than ``verdict``)."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def observe(self, topic: str, payload: bytes) -> None:
        name = topic[len(HEALTH_PREFIX):]
        if not topic.startswith(HEALTH_PREFIX) or not name or "/" in name:
            return
        with self._lock:
            if not payload:  # a retained document cleared by hand: forget the process
                self._docs.pop(name, None)
                return
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = None
            self._docs[name] = doc if isinstance(doc, dict) else {"state": "down"}

    def verdict(self, now_ms: int) -> Verdict:
        with self._lock:
            docs = dict(self._docs)
        procs = tuple(judge(n, d, now_ms) for n, d in sorted(docs.items()))
        if not procs:
            return Verdict(False, "no analytics process has reported its liveness on "
                           f"{HEALTH_FILTER} (is `greeniot analytics` running?)", procs)
        bad = [p for p in procs if p.state in BAD_STATES]
        if not any(p.state == "ok" for p in procs):
            bad = bad or list(procs)
        if bad:
            return Verdict(False, "; ".join(p.reason for p in bad), procs)
        return Verdict(True, "ok", procs)


async def watch(mqtt: MqttSession, board: LivenessBoard) -> None:
    """Feed ``board`` from a session subscribed to :data:`HEALTH_FILTER` (until cancelled)."""
    while True:
        await mqtt.wait_inbox(1.0)
        for m in mqtt.drain(1000):
            board.observe(m.topic, m.payload)
