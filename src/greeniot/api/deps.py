"""Dependencies of the routes, all read from ``app.state`` (set by ``create_app``; no globals).

``SessionDep`` gives a registry session per request. ``InfluxDep`` and ``CommanderDep`` give the
injected InfluxDB client and valve commander, or answer 503 naming what is not configured.
The two are described here as protocols: any object with these methods will do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from greeniot.config import Settings


class InfluxQuery(Protocol):
    """What the API needs from the InfluxDB client (``greeniot.store.influx.InfluxClient``)."""

    async def query(self, q: str) -> list[dict[str, Any]]:
        """Rows as dicts: ``time`` (epoch ms), one key per column and per GROUP BY tag."""
        ...


class Commander(Protocol):
    """What the API needs from the valve commander (``greeniot.actions.valves``)."""

    async def send(self, *, site: str, device: str, op: Literal["open", "close"],
                   max_run_s: int | None, reason: str, zone: str | None = None,
                   task_id: int | None = None) -> str:
        """Record the command in the registry, publish it; return its id."""
        ...


class Publisher(Protocol):
    """``await publish(topic, payload, qos, retain=...)`` returns once the broker has it
    (``greeniot.transport.mqtt.MqttSession.send``): how the API publishes site forecasts."""

    async def __call__(self, topic: str, payload: bytes, qos: int = 1, *,
                       retain: bool = False) -> None: ...


def package_version() -> str:
    """The installed greeniot version (from the package metadata, "unknown" if not installed)."""
    try:
        return metadata.version("greeniot")
    except metadata.PackageNotFoundError:
        return "unknown"


T = TypeVar("T")


async def released(session: Session, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the thread pool, then the session's transaction ended.

    On SQLite every transaction begins IMMEDIATE (registry/db.py): it holds the registry's
    write lock until it ends. A request that awaits the broker, InfluxDB or its upload with a
    transaction open stalls every other writer for the busy timeout, and deadlocks one that
    runs on the event loop's own thread. Committing keeps what was read usable
    (``expire_on_commit`` is off); a failure rolls back."""
    def run() -> T:
        try:
            out = fn(*args, **kwargs)
        except BaseException:
            session.rollback()
            raise
        session.commit()
        return out

    return await run_in_threadpool(run)


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_influx(request: Request) -> InfluxQuery:
    influx: InfluxQuery | None = request.app.state.influx
    if influx is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "no InfluxDB client configured: readings are not available")
    return influx


def get_commander(request: Request) -> Commander:
    commander: Commander | None = request.app.state.commander
    if commander is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "no valve commander configured: commands cannot be sent")
    return commander


def get_publisher(request: Request) -> Publisher:
    publisher: Publisher | None = getattr(request.app.state, "publisher", None)
    if publisher is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "no broker connection configured: forecasts cannot be published")
    return publisher


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
InfluxDep = Annotated[InfluxQuery, Depends(get_influx)]
CommanderDep = Annotated[Commander, Depends(get_commander)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
