"""The pump's batching on the real Mosquitto: a stream is taken in batches gathered over
``batch_linger_s``, a lone reading after a quiet spell at once."""

from __future__ import annotations

import asyncio
import time

from greeniot.config import Settings
from greeniot.ingest.service import STREAMING_S, IngestService
from greeniot.protocol import SoilReading, encode
from greeniot.transport.mqtt import Message
from tests.helpers import Publisher


class Recording(IngestService):
    """Ingest that notes each batch holding messages of ``site``: how many, when it was taken
    [wall ms], and which. (The broker is shared with other tests: retained messages of
    theirs arrive too.)"""

    def __init__(self, *a, site: str, **kw) -> None:
        super().__init__(*a, **kw)
        self.site = f"/{site}/"
        self.batches: list[tuple[int, int, list[Message]]] = []
        self.ours = 0

    async def process(self, batch: list[Message]) -> None:
        mine = [m for m in batch if self.site in m.topic]
        if mine:
            self.batches.append((len(mine), int(time.time() * 1000), mine))
            self.ours += len(mine)
        await super().process(batch)


async def until(check, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def lingering(settings: Settings, linger_s: float) -> Settings:
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(
        update={"batch_linger_s": linger_s, "lag_monitor": False})})


def reading(site: str, seq: int) -> tuple[str, bytes]:
    now = int(time.time() * 1000)
    return (f"greeniot/v1/{site}/soil-1/soil",
            encode(SoilReading(seq=seq, ts_ms=now, vwc_pct=30.0)))


def test_a_stream_is_gathered_and_a_lone_reading_is_not_kept_waiting(
        settings: Settings, site_id: str) -> None:
    s = lingering(settings, 0.5)
    pub = Publisher(s.mqtt.port)

    async def scenario() -> Recording:
        async with Recording(s, site=site_id) as svc:
            pub.publish_many([reading(site_id, 0)])
            await until(lambda: svc.ours >= 1)
            assert len(svc.batches) == 1
            # Right after a batch: a stream. A message now waits for more to come with it.
            pub.publish_many([reading(site_id, 1)])
            await until(lambda: svc.ours >= 2)
            (_, taken, (m,)) = svc.batches[1]
            assert taken - m.received_ms >= 400, "a streamed message was not lingered over"
            # Quiet for longer than STREAMING_S: the next one alone is taken at once.
            await until(lambda: not svc.streaming(), timeout_s=STREAMING_S + 5)
            pub.publish_many([reading(site_id, 2)])
            await until(lambda: svc.ours >= 3)
            (_, taken, (m,)) = svc.batches[2]
            assert taken - m.received_ms < 400, "a lone reading waited the linger"
        return svc

    asyncio.run(scenario())
    pub.close()


def test_a_backlog_streamed_in_comes_in_few_batches_and_whole(
        settings: Settings, site_id: str) -> None:
    """2000 readings published while ingest runs: without a linger the pump takes what the
    network thread has read each time; with one, batches span at least the linger."""
    items = [reading(site_id, i) for i in range(2000)]

    async def stream(linger_s: float) -> Recording:
        s = lingering(settings, linger_s).model_copy(
            update={"mqtt": settings.mqtt.model_copy(update={"client_id": f"b{linger_s}"})})
        pub = Publisher(s.mqtt.port)
        async with Recording(s, site=site_id) as svc:
            t0 = time.monotonic()
            await asyncio.to_thread(pub.publish_many, items)
            await until(lambda: svc.ours >= len(items))
            took = time.monotonic() - t0
        pub.close()
        assert sum(n for n, _, _ in svc.batches) == len(items)
        svc.took = took  # type: ignore[attr-defined]
        return svc

    svc = asyncio.run(stream(0.2))
    # one batch at the start, then at most one per linger while the stream lasts
    assert len(svc.batches) <= 2 + svc.took / 0.2, (len(svc.batches), svc.took)
