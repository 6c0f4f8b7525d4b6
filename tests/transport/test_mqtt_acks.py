"""The transport's own I/O on the real broker: buffered reads deliver every message whole and
in order (small, large, split across reads), and ``ack_many`` acknowledges exactly the
messages it is given — the broker redelivers the others to the persistent session."""

from __future__ import annotations

import asyncio
import uuid

from greeniot.config import MqttSettings
from greeniot.services import MosquittoProcess
from greeniot.transport.mqtt import READ_CHUNK, Message, MqttSession
from tests.helpers import Publisher


async def receive(s: MqttSettings, client_id: str, topic: str, n: int,
                  timeout_s: float = 30.0) -> tuple[MqttSession, list[Message]]:
    session = MqttSession(s, client_id, filters=[topic], manual_ack=True)
    await session.connect()
    got: list[Message] = []
    async with asyncio.timeout(timeout_s):
        while len(got) < n:
            await session.wait_inbox(0.2)
            got += session.drain(10_000)
    return session, got


def test_buffered_reads_keep_every_payload_whole_and_in_order(mosquitto: MosquittoProcess
                                                              ) -> None:
    s = MqttSettings(port=mosquitto.port)
    topic = f"t/{uuid.uuid4().hex}"
    sizes = [0, 1, 100, READ_CHUNK - 7, READ_CHUNK, READ_CHUNK + 1, 3 * READ_CHUNK + 5]
    payloads = [bytes([i % 251]) * n for i, n in enumerate(sizes * 30)]
    cid = f"buf-{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[Message]:
        session, _ = await receive(s, cid, topic, 0)  # the persistent session
        await session.close()
        pub = Publisher(mosquitto.port)
        pub.publish_many([(topic, p) for p in payloads])
        pub.close()
        session, got = await receive(s, cid, topic, len(payloads))
        session.ack_many(got)
        await session.close()
        return got

    got = asyncio.run(scenario())
    assert [m.payload for m in got] == payloads


def test_ack_many_acks_exactly_what_it_is_given(mosquitto: MosquittoProcess) -> None:
    s = MqttSettings(port=mosquitto.port)
    topic = f"t/{uuid.uuid4().hex}"
    cid = f"acks-{uuid.uuid4().hex[:8]}"
    payloads = [str(i).encode() for i in range(3000)]

    async def scenario() -> list[bytes]:
        session, _ = await receive(s, cid, topic, 0)
        await session.close()
        pub = Publisher(mosquitto.port)
        pub.publish_many([(topic, p) for p in payloads])
        pub.close()
        session, got = await receive(s, cid, topic, len(payloads))
        session.ack_many([m for m in got if int(m.payload) % 3])  # leave every third unacked
        await asyncio.sleep(0.5)  # let paho's thread write the PUBACKs before we go
        await session.close()
        # A new connection of the same session: the broker redelivers what was not acked.
        session = MqttSession(s, cid, filters=[topic], manual_ack=True)
        await session.connect()
        again: list[Message] = []
        try:
            async with asyncio.timeout(30):
                while len(again) < 1000:
                    await session.wait_inbox(0.2)
                    again += session.drain(10_000)
            await asyncio.sleep(1.0)  # nothing more must come
            again += session.drain(10_000)
            session.ack_many(again)
        finally:
            await session.close()
        return sorted(m.payload for m in again)

    again = asyncio.run(scenario())
    assert again == sorted(p for p in payloads if int(p) % 3 == 0)


def test_a_payload_over_max_payload_arrives_as_its_prefix_with_its_size(
        mosquitto: MosquittoProcess) -> None:
    s = MqttSettings(port=mosquitto.port)
    topic = f"t/{uuid.uuid4().hex}"
    limit = 2 * READ_CHUNK
    payloads = [b"a" * 10, b"b" * limit, b"c" * (limit + 1), bytes(range(256)) * 4000, b""]
    cid = f"cut-{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[Message]:
        session = MqttSession(s, cid, filters=[topic], manual_ack=True, max_payload=limit,
                              keep_bytes=100)
        await session.connect()
        await session.close()
        pub = Publisher(mosquitto.port)
        pub.publish_many([(topic, p) for p in payloads])
        pub.close()
        session = MqttSession(s, cid, filters=[topic], manual_ack=True, max_payload=limit,
                              keep_bytes=100)
        await session.connect()
        got: list[Message] = []
        async with asyncio.timeout(30):
            while len(got) < len(payloads):
                await session.wait_inbox(0.2)
                got += session.drain(100)
        session.ack_many(got)
        await session.close()
        return got

    got = asyncio.run(scenario())
    for m, p in zip(got, payloads, strict=True):
        if len(p) > limit:
            assert m.payload == p[:100] and m.truncated_from == len(p)
        else:
            assert m.payload == p and m.truncated_from is None
