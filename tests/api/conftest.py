"""The API on a temp SQLite registry, through FastAPI's TestClient (httpx).

Every route needs a credential: ``users`` creates one account per role in the registry,
``clients`` gives a client per role holding a real login token from ``POST /auth/token``,
``client`` is the operator's (estate edits, valve commands, task work) and ``anon`` has no
credential at all.

``registry`` is a second engine on the same file, as the CLI, analytics or actions processes
have: what it writes the API must see. ``FakeCommander`` stands in for the valve commander of
``greeniot.actions.valves`` at its interface only: it records the command in the registry as
the real one does and publishes nothing (the MQTT valve path is tested end to end elsewhere).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from greeniot.api import create_app
from greeniot.config import AuthSettings, Settings
from greeniot.registry import accounts, crud
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.context import seed
from greeniot.registry.db import make_engine, migrate, session_factory

API = "/api/v1"

ESTATE: dict[str, list[dict[str, Any]]] = {
    "sites": [{"id": "estate-a", "name": "Estate A"}],
    "zones": [{"site": "estate-a", "id": "z1", "name": "lawn", "max_run_s": 900},
              {"site": "estate-a", "id": "z2"}],
    "trees": [
        {"site": "estate-a", "id": "t1", "species": "Ficus microcarpa", "heritage": True,
         "heritage_name": "Old Banyan", "height_m": 18.0},
        {"site": "estate-a", "id": "t2", "species": "Bauhinia blakeana", "height_m": 7.5},
    ],
    "devices": [
        {"site": "estate-a", "id": "tilt-t1", "kind": "tilt", "tree_id": "t1"},
        {"site": "estate-a", "id": "soil-z1-1", "kind": "soil", "zone_id": "z1"},
        {"site": "estate-a", "id": "valve-z1", "kind": "valve", "zone_id": "z1"},
    ],
}


ROLES = ("viewer", "crew", "operator", "admin")
#: Every account's password in these tests: ``<role>-password``.
SECRET = "test-secret-" + "x" * 32


def password(role: str) -> str:
    return f"{role}-password"


def auth_settings() -> AuthSettings:
    return AuthSettings(secret=SECRET)


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", auth=auth_settings())


@functools.cache
def password_hash(role: str) -> str:
    """argon2 takes most of a second per hash on a busy machine: hash each password once."""
    return PasswordHasher().hash(password(role))


def add_users(factory: sessionmaker[Session], **sites: list[str]) -> dict[str, int]:
    """One person per role, named after it (``crew``...); ``sites`` restricts a role.
    Made through ``create_user`` with the password hash put in afterwards."""
    ids = {}
    with factory() as s:
        for role in ROLES:
            user = accounts.create_user(s, username=role, role=role, kind="service",
                                        locale="en", tz="Asia/Hong_Kong",
                                        sites=sites.get(role, []))
            user.kind, user.password_hash = "person", password_hash(role)
            s.commit()
            ids[role] = user.id
    return ids


def issue(factory: sessionmaker[Session], username: str) -> str:
    """A login token as ``POST /auth/token`` issues it, without paying for argon2 again."""
    with factory() as s:
        user = accounts.get_user(s, username=username)
        token, _row = accounts.issue_token(s, user=user, kind="session", ttl_s=3600)
    return token


def token_for(client: TestClient, username: str, pw: str) -> str:
    r = client.post(f"{API}/auth/token", data={"username": username, "password": pw})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


class LoggedInClient(TestClient):
    """A TestClient that runs the app's lifespan and then logs in as ``role``."""

    def __init__(self, app: Any, role: str) -> None:
        super().__init__(app)
        self.role = role

    def __enter__(self) -> LoggedInClient:
        super().__enter__()
        self.headers["Authorization"] = (
            f"Bearer {token_for(self, self.role, password(self.role))}")
        return self


def role_clients(app: Any, factory: sessionmaker[Session]) -> dict[str, TestClient]:
    """A client per role, each with its own login token (the app's lifespan runs in ``anon``)."""
    return {role: TestClient(app, headers={"Authorization": f"Bearer {issue(factory, role)}"})
            for role in ROLES}


@pytest.fixture
def registry(api_settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions of another process on the API's registry file (migrated, estate seeded)."""
    engine = make_engine(api_settings)
    migrate(engine)
    factory = session_factory(engine)
    with factory() as s:
        seed(s, **ESTATE)
    add_users(factory)
    yield factory
    engine.dispose()


@dataclass
class FakeCommander:
    """Records each ``send`` and writes its command row via crud, like the real commander."""

    engine: Engine
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_with: Exception | None = None

    async def send(self, *, site: str, device: str, op: str, max_run_s: int | None,
                   reason: str, zone: str | None = None, task_id: int | None = None) -> str:
        self.calls.append({"site": site, "device": device, "op": op, "max_run_s": max_run_s,
                           "reason": reason, "zone": zone, "task_id": task_id})
        if self.fail_with is not None:
            raise self.fail_with
        now = wall_clock_ms()
        with session_factory(self.engine)() as s:
            cmd = crud.create_command(s, site=site, device=device, op=op, max_run_s=max_run_s,
                                      reason=reason, zone=zone, task_id=task_id,
                                      deadline_ms=now + 60_000, now_ms=now)
            crud.mark_sent(s, command_id=cmd.id, now_ms=now + 1)
            return cmd.id


@pytest.fixture
def commander(api_settings: Settings) -> Iterator[FakeCommander]:
    engine = make_engine(api_settings)
    yield FakeCommander(engine)
    engine.dispose()


@pytest.fixture
def app(api_settings: Settings, registry: sessionmaker[Session],
        commander: FakeCommander) -> Any:
    return create_app(api_settings, commander=commander)


@pytest.fixture
def anon(app: Any) -> Iterator[TestClient]:
    """No credential; runs the app's lifespan for every client of the test."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def clients(app: Any, anon: TestClient, registry: sessionmaker[Session]
            ) -> dict[str, TestClient]:
    return role_clients(app, registry)


@pytest.fixture
def client(clients: dict[str, TestClient]) -> TestClient:
    """The operator: estate edits, valve commands and task work."""
    return clients["operator"]
