"""Fixtures for the actions tests: a migrated registry on a real SQLite file, a broker
observer, a clock the test moves, and a broker that is gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.services import MosquittoProcess, free_port
from tests.helpers import Observer

T0_MS = 1_795_510_737_944


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Callable[[], Session]]:
    """A session factory over a freshly migrated SQLite file of this test's own."""
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    migrate(url)
    engine = engine_from_url(url)
    yield session_factory(engine)
    engine.dispose()


class Clock:
    """Event time the test sets and advances (the injectable clock, not a patch)."""

    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, s: float) -> int:
        self.now_ms += int(s * 1000)
        return self.now_ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def observe(mosquitto: MosquittoProcess) -> Iterator[Callable[[list[str]], Observer]]:
    """``observe([filter, ...])`` → a subscribed paho Observer, closed after the test."""
    made: list[Observer] = []

    def start(filters: list[str]) -> Observer:
        obs = Observer(mosquitto.port, filters)
        made.append(obs)
        return obs

    yield start
    for obs in made:
        obs.close()


@pytest.fixture
def gone_broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A broker of this test's own, running; the test stops it to make publishing fail."""
    broker = MosquittoProcess(tmp_path / "gone-broker", persistence=False)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def receiver_port() -> int:
    return free_port()


@pytest.fixture
def receivers() -> Iterator[list[Any]]:
    """Local receivers (HTTP, SMTP) a test starts; stopped after it."""
    made: list[Any] = []
    yield made
    for r in made:
        (r.stop if hasattr(r, "stop") else r.close)()
