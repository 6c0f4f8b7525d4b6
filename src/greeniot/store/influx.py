"""Async InfluxDB client over HTTP: v1 ``/write`` + ``/query`` (served by 1.x, 2.x via DBRP
and 3.x), or the v2 ``/api/v2/write`` endpoint as an option.

Both APIs take the same line protocol, so one small httpx transport serves both; the official
``influxdb-client`` would add a second HTTP stack and its own batching for no gain here.
"""

from __future__ import annotations

import gzip
import ipaddress
import logging
from typing import Any

import httpx

from greeniot.config import InfluxSettings
from greeniot.store.errors import QueryError, RejectedWriteError, RetryableWriteError

log = logging.getLogger(__name__)


class InfluxClient:
    """``async with InfluxClient(settings.influx) as influx: await influx.write(lines)``."""

    def __init__(self, settings: InfluxSettings, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.database = settings.database
        headers = {}
        if settings.token:
            headers["Authorization"] = f"Token {settings.token}"
        auth = (settings.username, settings.password or "") if settings.username else None
        # Plain http never uses TLS (redirects are not followed): skip loading the CA bundle,
        # ~0.1 s and ~1 MB per client.
        verify = httpx.URL(settings.url).scheme != "http"
        self._http = httpx.AsyncClient(base_url=settings.url, timeout=settings.timeout_s,
                                       headers=headers, auth=auth, transport=transport,
                                       verify=verify)
        self._db_ready = False
        self.gzip = wants_gzip(settings)

    async def __aenter__(self) -> InfluxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- writing ------------------------------------------------------------------------------
    async def ensure_database(self) -> None:
        """``CREATE DATABASE`` is idempotent in InfluxDB 1.x; on v2 the bucket must exist."""
        if self.settings.api == "v1":
            await self.query(f'CREATE DATABASE "{self.database}"', database=None, method="POST")
        self._db_ready = True

    async def write(self, lines: list[str] | bytes, *, precision: str = "ms") -> None:
        """Write line protocol (``precision``: ms, or u as ingest writes, see
        ``store.lineproto``). Raises RetryableWriteError or RejectedWriteError."""
        body = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
        if not body.strip():
            return
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        if self.settings.api == "v1":
            url, params = "/write", {"db": self.database, "precision": precision}
        else:
            url = "/api/v2/write"
            params = {"org": self.settings.org or "", "bucket": self.settings.bucket or "",
                      "precision": "us" if precision == "u" else precision}
        for attempt in (1, 2):
            try:
                resp = await self._http.post(url, params=params, content=body, headers=headers)
            except httpx.HTTPError as err:
                raise RetryableWriteError(f"InfluxDB at {self.settings.url}: {err!r}") from err
            if resp.status_code == 204:
                return
            text = resp.text[:500]
            if resp.status_code == 404 and "database not found" in text and attempt == 1:
                await self.ensure_database()
                continue
            if resp.status_code in (400, 422) or "partial write" in text:
                raise RejectedWriteError(f"InfluxDB refused points ({resp.status_code}): {text}")
            raise RetryableWriteError(f"InfluxDB write failed ({resp.status_code}): {text}")
        raise RetryableWriteError("InfluxDB database could not be created")

    # -- reading ------------------------------------------------------------------------------
    async def query(self, q: str, *, database: str | bool | None = True, method: str = "GET"
                    ) -> list[dict[str, Any]]:
        """Run InfluxQL; return rows as dicts: ``time`` (epoch ms), columns, and GROUP BY tags.

        ``database=True`` uses the client's database, ``None`` none (server-level statements).
        """
        params: dict[str, str] = {"q": q, "epoch": "ms"}
        db = self.database if database is True else database
        if isinstance(db, str):
            params["db"] = db
        try:
            if method == "GET":
                resp = await self._http.get("/query", params=params)
            else:
                resp = await self._http.post("/query", data=params)
        except httpx.HTTPError as err:
            raise QueryError(f"InfluxDB at {self.settings.url}: {err!r}") from err
        if resp.status_code != 200:
            raise QueryError(f"InfluxDB query failed ({resp.status_code}): {resp.text[:300]}")
        return rows_from_result(resp.json())

    async def ping(self) -> bool:
        try:
            resp = await self._http.get("/ping")
        except httpx.HTTPError:
            return False
        return resp.status_code == 204


def wants_gzip(settings: InfluxSettings) -> bool:
    """``settings.gzip``, or when unset: compress unless the server is on a loopback address."""
    if settings.gzip is not None:
        return settings.gzip
    host = httpx.URL(settings.url).host
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return True


def rows_from_result(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten InfluxDB's ``{"results":[{"series":[{columns, values, tags}]}]}``."""
    rows: list[dict[str, Any]] = []
    for result in payload.get("results", []):
        if "error" in result:
            raise QueryError(f"InfluxQL error: {result['error']}")
        for series in result.get("series", []) or []:
            cols = series["columns"]
            tags = series.get("tags") or {}
            name = series.get("name")
            for values in series.get("values", []):
                row = dict(zip(cols, values, strict=True))
                row.update(tags)
                if name is not None:
                    row.setdefault("_measurement", name)
                rows.append(row)
    return rows
