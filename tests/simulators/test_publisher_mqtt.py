"""The MQTT session: a bounded window of unacknowledged messages, nothing dropped."""

from __future__ import annotations

import asyncio

import pytest

from greeniot.services import MosquittoProcess, free_port
from greeniot.simulators.publisher import Publisher, PublisherError
from tests.simulators.conftest import Observer, wait_until


def test_window_is_bounded_and_every_message_arrives_once(
        mosquitto: MosquittoProcess, observer: Observer, site_id: str) -> None:
    n, window = 3000, 7
    peaks: list[int] = []

    async def main() -> int:
        async with Publisher(host="127.0.0.1", port=mosquitto.port, client_id=f"pub-{site_id}",
                             max_inflight=window, clean_session=True) as pub:
            for i in range(n):
                await pub.publish(f"greeniot/v1/{site_id}/d{i % 3}/tilt",
                                  b'{"v":1,"seq":%d,"ts_ms":1795000000000,"pitch_deg":0.1,'
                                  b'"roll_deg":0.2}' % i)
                peaks.append(pub.inflight)
            await pub.drain(10)
            assert pub.inflight == 0 and pub.acked == pub.sent == n
            return pub.connects

    assert asyncio.run(main()) == 1
    assert max(peaks) == window, "the window fills but never overflows"
    wait_until(lambda: observer.count() >= n, 10, f"{n} messages")
    assert observer.count() == n
    seqs = sorted(m.seq for m in observer.messages(channel="tilt"))  # type: ignore[attr-defined]
    assert seqs == list(range(n))


def test_unreachable_broker_is_an_error_naming_it() -> None:
    port = free_port()

    async def main() -> None:
        async with Publisher(host="127.0.0.1", port=port, client_id="nobody",
                             connect_timeout_s=0.5):
            pass

    with pytest.raises(PublisherError, match=f"127.0.0.1:{port}"):
        asyncio.run(main())
