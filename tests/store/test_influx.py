"""The InfluxDB client: v1 against the real InfluxDB 1.6; the v2 write endpoint against a small
local HTTP recorder (no InfluxDB 2.x/3.x server installs on these machines)."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import threading
import typing
from collections.abc import Iterator

import pytest

from greeniot.config import InfluxSettings
from greeniot.services import InfluxProcess
from greeniot.store.errors import QueryError, RejectedWriteError, RetryableWriteError
from greeniot.store.influx import InfluxClient, wants_gzip
from greeniot.store.lineproto import line, tag_suffix


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: typing.ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    status = 204
    body = b""

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n)
        Recorder.requests.append((self.path, dict(self.headers), data))
        self.send_response(Recorder.status)
        self.send_header("Content-Length", str(len(Recorder.body)))
        self.end_headers()
        self.wfile.write(Recorder.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.requests, Recorder.status, Recorder.body = [], 204, b""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_v2_write_sends_org_bucket_token_and_gzip(recorder: str) -> None:
    s = InfluxSettings(url=recorder, api="v2", org="estates", bucket="greeniot", token="s3cret",
                       gzip=True)
    lines = [line("soil", tag_suffix("a", "d"), {"vwc_pct": 30, "seq": 1}, 1_795_510_737_944)]

    async def go() -> None:
        async with InfluxClient(s) as c:
            await c.write(lines)

    asyncio.run(go())
    (path, headers, body), = Recorder.requests
    assert path.startswith("/api/v2/write?")
    assert "org=estates" in path and "bucket=greeniot" in path and "precision=ms" in path
    assert headers["Authorization"] == "Token s3cret"
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"soil,device=d,site=a vwc_pct=30.0,seq=1i 1795510737944\n"


@pytest.mark.parametrize(("status", "body", "error"), [
    (400, b'{"error":"partial write: field type conflict"}', RejectedWriteError),
    (500, b'{"error":"engine: cache full"}', RetryableWriteError),
    (503, b"", RetryableWriteError),
    (401, b'{"error":"unauthorized"}', RetryableWriteError),
])
def test_write_failures_are_classified(recorder: str, status: int, body: bytes,
                                       error: type[Exception]) -> None:
    Recorder.status, Recorder.body = status, body

    async def go() -> None:
        async with InfluxClient(InfluxSettings(url=recorder)) as c:
            await c.write(["soil,site=a,device=d vwc_pct=1.0 1"])

    with pytest.raises(error):
        asyncio.run(go())


def test_connection_refused_is_retryable() -> None:
    from greeniot.services import free_port

    async def go() -> None:
        async with InfluxClient(InfluxSettings(url=f"http://127.0.0.1:{free_port()}")) as c:
            await c.write(["soil,site=a,device=d vwc_pct=1.0 1"])

    with pytest.raises(RetryableWriteError):
        asyncio.run(go())


@pytest.mark.services
def test_v1_roundtrip_creates_database_and_keeps_field_types(influxdb: InfluxProcess,
                                                             site_id: str) -> None:
    db = f"rt_{site_id.replace('-', '_')}"

    async def go() -> tuple[list[dict], list[dict]]:
        async with InfluxClient(InfluxSettings(url=influxdb.url, database=db)) as c:
            # No CREATE DATABASE first: the client creates it on "database not found".
            await c.write([line("soil", tag_suffix("a", "d1"), {"vwc_pct": 30, "seq": 1}, 1000),
                           line("soil", tag_suffix("a", "d1"), {"vwc_pct": 30.5, "seq": 2}, 2000)])
            rows = await c.query("SELECT vwc_pct, seq FROM soil")
            types = await c.query("SHOW FIELD KEYS FROM soil")
            return rows, types

    rows, types = asyncio.run(go())
    assert [(r["time"], r["vwc_pct"], r["seq"]) for r in rows] == [(1000, 30.0, 1),
                                                                  (2000, 30.5, 2)]
    assert {r["fieldKey"]: r["fieldType"] for r in types} == {"vwc_pct": "float",
                                                              "seq": "integer"}


@pytest.mark.services
def test_bad_query_raises_with_server_message(influxdb: InfluxProcess) -> None:
    async def go() -> None:
        async with InfluxClient(InfluxSettings(url=influxdb.url, database="nope")) as c:
            await c.query("SELEC nonsense")

    with pytest.raises(QueryError, match="error parsing query"):
        asyncio.run(go())


def test_write_bodies_are_compressed_unless_influxdb_is_on_loopback(recorder: str) -> None:
    assert [wants_gzip(InfluxSettings(url=u)) for u in (
        "http://127.0.0.1:8086", "http://localhost:8086", "http://[::1]:8086",
        "http://influxdb:8086", "https://10.0.0.5:8086")] == [False, False, False, True, True]
    assert wants_gzip(InfluxSettings(url="http://127.0.0.1:8086", gzip=True))
    assert not wants_gzip(InfluxSettings(url="http://influxdb:8086", gzip=False))

    async def go() -> None:  # the default on loopback: the spool's bytes as they are
        async with InfluxClient(InfluxSettings(url=recorder)) as c:
            await c.write(b"soil,device=d,site=a vwc_pct=30.0,seq=1i 1795510737944\n")

    asyncio.run(go())
    (_path, headers, body), = Recorder.requests
    assert "Content-Encoding" not in headers
    assert body == b"soil,device=d,site=a vwc_pct=30.0,seq=1i 1795510737944\n"
