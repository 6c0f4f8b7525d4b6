"""Estate management on a real SQLite registry: the API in-process (TestClient), the API as a
real ``greeniot api`` process, and the CLI as real ``python -m greeniot`` processes, all on
the same registry file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.api import create_app
from greeniot.config import Settings
from greeniot.registry.db import make_engine, migrate, session_factory
from greeniot.services import MosquittoProcess, free_port
from tests.helpers import poll

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sample-estate" / "estate.geojson"
SAMPLE_CSV = ROOT / "deploy" / "sample-estate" / "trees-update.csv"
API = "/api/v1"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def api_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def sessions(api_settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions of another process on the same registry file."""
    engine = make_engine(api_settings)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def client(api_settings: Settings, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


def cli(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m greeniot ARGS --data-dir DATA`` as a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENIOT_")}
    return subprocess.run([sys.executable, "-m", "greeniot", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture
def api_process(data_dir: Path, mosquitto: MosquittoProcess) -> Iterator[str]:
    """``greeniot api`` on a free port over ``data_dir`` (it needs the broker for valve
    commands); yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENIOT_")}
    env["GREENIOT_MQTT__CLIENT_ID"] = f"estate-api-{port}"
    proc = subprocess.Popen([sys.executable, "-m", "greeniot", "api", "--port", str(port),
                             "--mqtt-port", str(mosquitto.port), "--data-dir", str(data_dir)],
                            env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}{API}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/sites", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        poll(up, timeout_s=30, interval_s=0.2, what="greeniot api")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
