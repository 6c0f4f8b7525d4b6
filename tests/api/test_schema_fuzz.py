"""Schemathesis against the OpenAPI schema, as the admin (every route open to it), with the
real InfluxDB behind the readings: whatever it generates, no answer may be a server error.

CI-sized: a few examples per operation (``MAX_EXAMPLES``), about a minute on two cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session, sessionmaker

from greeniot.api import create_app
from greeniot.config import InfluxSettings, Settings
from greeniot.services import InfluxProcess, MosquittoProcess
from greeniot.store.influx import InfluxClient
from tests.api.conftest import FakeCommander, issue
from tests.helpers import Publisher

pytestmark = pytest.mark.services

MAX_EXAMPLES = 8


@pytest.fixture
def fuzzed_app(api_settings: Settings, registry: sessionmaker[Session],
               commander: FakeCommander, influxdb: InfluxProcess,
               mosquitto: MosquittoProcess) -> Iterator[Any]:
    db = "fuzz"
    httpx.post(f"{influxdb.url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    influx = InfluxClient(InfluxSettings(url=influxdb.url, database=db))
    # site forecasts go to the real broker (a paho client: the TestClient runs its own loop)
    pub = Publisher(mosquitto.port)
    retained: set[str] = set()

    async def publish(topic: str, payload: bytes, qos: int = 1, *, retain: bool = False
                      ) -> None:
        await asyncio.to_thread(pub.publish, topic, payload, qos, retain)
        if retain:
            retained.add(topic)

    app = create_app(api_settings, influx=influx, commander=commander, publisher=publish)
    with TestClient(app):  # runs the lifespan: registry migrated, sessions ready
        app.state.fuzz_token = issue(registry, "admin")
        yield app
    for topic in retained:  # leave no retained forecast to the session's other tests
        pub.publish(topic, b"", 1, True)
    pub.close()


def test_no_server_errors(fuzzed_app: Any) -> None:
    """Every operation of the schema, each with its own Hypothesis run; failures collected so
    that one report names them all."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    headers = {"Authorization": f"Bearer {fuzzed_app.state.fuzz_token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/api/v1/auth/logout":
            continue  # would end the token every other case uses (test_accounts_routes)
        operations += 1

        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as err:  # collected: the assertion below lists every failure
            failures.append(f"{op.label}: {str(err)[:800]}")
    assert operations >= 40
    assert not failures, "\n".join(failures)
