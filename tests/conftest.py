"""Session fixtures: a real Mosquitto and a real InfluxDB on free loopback ports.

Each test gets its own InfluxDB database and its own MQTT site id, so tests never see each
other's data. Services run in their own process groups and are stopped in teardown (and by an
atexit hook should pytest die).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from greeniot.config import InfluxSettings, MqttSettings, Settings
from greeniot.services import InfluxProcess, MosquittoProcess, PostgresProcess

_counter = itertools.count()


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def mosquitto(services_dir: Path) -> Iterator[MosquittoProcess]:
    broker = MosquittoProcess(services_dir / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxdb(services_dir: Path) -> Iterator[InfluxProcess]:
    server = InfluxProcess(services_dir / "influxdb")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresProcess]:
    """A real PostgreSQL server (Debian ``postgresql``), for the registry suite's second run."""
    server = PostgresProcess()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site_id() -> str:
    """A site id no other test uses: isolates topics on the shared broker."""
    return f"t{os.getpid() % 1000}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def settings(tmp_path: Path, mosquitto: MosquittoProcess, influxdb: InfluxProcess,
             site_id: str) -> Settings:
    """Settings pointing at the session services, with a database of this test's own."""
    return Settings(
        data_dir=tmp_path / "data",
        mqtt=MqttSettings(port=mosquitto.port, client_id=f"greeniot-{site_id}"),
        influx=InfluxSettings(url=influxdb.url, database=f"db_{site_id.replace('-', '_')}",
                              flush_interval_s=0.1),
    )


@pytest.fixture
def own_broker_settings(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """``settings`` on a broker of this test's own: for counts of everything a broker carries
    (retained messages of other tests on the shared broker would join them)."""
    broker = MosquittoProcess(tmp_path / "own-mosquitto")
    broker.start()
    yield settings.model_copy(update={"mqtt": settings.mqtt.model_copy(
        update={"port": broker.port})})
    broker.stop()


#: Fixtures that start or use a real broker or database: a test that uses any of them (directly
#: or through another fixture) is marked ``services`` automatically, and so is a test in a
#: module that starts its own (it imports a service class, e.g. to kill and restart a broker).
SERVICE_FIXTURES = frozenset({"mosquitto", "influxdb", "postgres", "settings", "services_dir",
                              "own_broker_settings"})
SERVICE_CLASSES = ("MosquittoProcess", "InfluxProcess", "PostgresProcess", "FirmwareNode")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if (SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
                or any(hasattr(module, name) for name in SERVICE_CLASSES)):
            item.add_marker(pytest.mark.services)
