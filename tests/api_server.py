"""The real API served in the test's event loop while a scenario talks to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from greeniot.config import Settings
from greeniot.runtime.processes import serve_api


async def with_api(settings: Settings, db: Any, body: Callable[[httpx.AsyncClient], Any], *,
                   keepalive: bool = True) -> Any:
    """Serve the API on a free port, run ``body(client)`` (base URL ``/api/v1``), stop it.

    ``keepalive=False``: a new connection per request, for a scenario whose requests are
    farther apart than uvicorn's keep-alive timeout (a request on a connection the server is
    closing fails with httpx's ReadError)."""
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    api = asyncio.create_task(serve_api(settings, engine=db, on_ready=ready.set_result))
    try:
        port = await asyncio.wait_for(ready, 60)
        limits = httpx.Limits() if keepalive else httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30,
                                     limits=limits) as client:
            return await body(client)
    finally:
        api.cancel()
        await asyncio.gather(api, return_exceptions=True)
