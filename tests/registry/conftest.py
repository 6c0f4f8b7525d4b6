"""A migrated registry per test, on each backend: a fresh SQLite file (real files, no in-memory
shortcuts) and a fresh database on a real PostgreSQL server."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from greeniot.registry import crud
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.registry.schemas import SiteCreate, TreeCreate, ZoneCreate

T0 = 1_795_510_000_000  # a fixed "now" [ms UTC] so that SLA and ordering are exact


_db_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'registry.sqlite3'}"
    server = request.getfixturevalue("postgres")
    return str(server.create_database(f"registry_{os.getpid()}_{next(_db_names)}"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    eng = engine_from_url(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s


@pytest.fixture
def estate(session: Session) -> Session:
    """Site ``estate-a`` with zone ``z1``, a heritage tree ``t1`` and an ordinary tree ``t2``."""
    crud.create_site(session, data=SiteCreate(id="estate-a", name="Estate A"), now_ms=T0)
    crud.create_zone(session, data=ZoneCreate(site="estate-a", id="z1", name="lawn"))
    crud.create_tree(session, data=TreeCreate(site="estate-a", id="t1", species="Ficus microcarpa",
                                              heritage=True, heritage_name="Old Banyan"),
                     now_ms=T0)
    crud.create_tree(session, data=TreeCreate(site="estate-a", id="t2", species="Bauhinia"),
                     now_ms=T0)
    return session
