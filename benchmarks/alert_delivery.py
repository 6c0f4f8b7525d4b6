"""Alert delivery: the dispatcher against direct signed POSTs, a stuck recipient, a storm.

    .venv/bin/python benchmarks/alert_delivery.py --alerts 500

Measured in one run on a temp SQLite registry and a local signed-webhook receiver:

1. baseline: one signed POST per alert from a plain httpx loop (no registry, no retries);
2. the dispatcher: ``submit`` of every alert (the longest single call), then the time until
   every delivery row is ``delivered`` — each delivery is planned and recorded in SQL;
3. the same with a second route to a receiver that never answers: how much later the good
   receiver has everything (the stuck one must not hold it up);
4. a storm to a recipient limited to 10 messages per 10 minutes: messages it got, and whether
   every alert is in them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greeniot.actions.lifecycle import alert_message
from greeniot.actions.sinks.dispatcher import AlertDispatcher, alert_notification
from greeniot.actions.sinks.webhook import encode_items, signed_headers, verify
from greeniot.config import DeliverySettings
from greeniot.protocol import Alert
from greeniot.registry import crud
from greeniot.registry.db import engine_from_url, migrate, session_factory
from tests.actions.receivers import serve_posts

SECRET = "bench-secret-0123456789"


class Receiver:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.messages = 0
        self.bad = 0
        self.server, self.url = serve_posts(self._post)

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        try:
            verify(SECRET, body, headers)
        except ValueError:
            self.bad += 1
        self.messages += 1
        self.items += [i["alert"]["id"] for i in json.loads(body)["items"]]

    def stop(self) -> None:
        self.server.shutdown()


def registry(folder: Path, n: int, routes: list[dict[str, Any]]) -> tuple[Any, list[Alert]]:
    url = f"sqlite:///{folder / 'registry.sqlite3'}"
    migrate(url)
    sessions = session_factory(engine_from_url(url))
    with sessions() as s:
        for r in routes:
            crud.add_route(s, **r)
        alerts = [alert_message(crud.raise_alarm(
            s, site="bench", kind="lean", severity="warning", message=f"tree {i} leans",
            ts_ms=1_795_000_000_000 + i, tree=f"t{i}", dedup_key=f"lean:bench:t{i}").alert)
            for i in range(n)]
    return sessions, alerts


async def baseline(url: str, alerts: list[Alert]) -> float:
    async with httpx.AsyncClient() as client:
        t0 = time.perf_counter()
        for a in alerts:
            body = encode_items([alert_notification(a, "raised")])
            (await client.post(url, content=body, headers=signed_headers(SECRET, body))
             ).raise_for_status()
        return time.perf_counter() - t0


async def dispatch(sessions: Any, alerts: list[Alert], settings: DeliverySettings,
                   done: Any) -> tuple[float, float]:
    async with AlertDispatcher(sessions, settings, flush_s=0.1) as dispatcher:
        t0 = time.perf_counter()
        longest = 0.0
        for a in alerts:
            t = time.perf_counter()
            dispatcher.submit(a)
            longest = max(longest, time.perf_counter() - t)
        while not done():
            await asyncio.sleep(0.01)
        return time.perf_counter() - t0, longest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=500)
    n = ap.parse_args().alerts
    settings = DeliverySettings(rate_max=100_000, backoff_base_s=0.05, timeout_s=600)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        good = Receiver()
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        stuck_url = f"http://127.0.0.1:{hole.getsockname()[1]}/stuck"
        try:
            _, alerts = registry(base / "b", n, [])
            t_base = asyncio.run(baseline(good.url, alerts))
            good.items.clear()

            sessions, alerts = registry(base / "d", n, [
                {"name": "good", "kind": "webhook", "target": good.url, "secret": SECRET}])
            t_disp, longest = asyncio.run(dispatch(sessions, alerts, settings,
                                                   lambda: len(good.items) >= n))
            good.items.clear()

            sessions, alerts = registry(base / "s", n, [
                {"name": "good", "kind": "webhook", "target": good.url, "secret": SECRET},
                {"name": "stuck", "kind": "webhook", "target": stuck_url, "secret": SECRET}])
            t_stuck, _ = asyncio.run(dispatch(sessions, alerts, settings,
                                              lambda: len(good.items) >= n))
            good.items.clear()
            good.messages = 0

            sessions, alerts = registry(base / "r", n, [
                {"name": "phone", "kind": "webhook", "target": good.url, "secret": SECRET,
                 "rate_max": 10, "rate_window_s": 600}])
            t_storm, _ = asyncio.run(dispatch(
                sessions, alerts, settings,
                lambda: len(good.items) >= n or good.messages >= 10))
            storm_msgs, storm_items = good.messages, len(set(good.items))
        finally:
            good.stop()
            hole.close()
    print(f"alerts: {n}")
    print(f"baseline direct signed POSTs: {n / t_base:,.0f} alerts/s")
    print(f"dispatcher (planned + recorded in SQL): {n / t_disp:,.0f} alerts/s, "
          f"ratio {t_base / t_disp:.2f} of baseline; longest submit() {longest * 1e6:.0f} µs")
    print(f"with a stuck second recipient: good one complete after {t_stuck:.2f} s "
          f"vs {t_disp:.2f} s alone (ratio {t_stuck / t_disp:.2f})")
    print(f"storm of {n} to a 10-per-10-min recipient: {storm_msgs} messages carrying "
          f"{storm_items}/{n} alerts in {t_storm:.2f} s; bad signatures: {good.bad}")


if __name__ == "__main__":
    main()
