"""The firmware's own unit tests, run by the MicroPython binary with an ESP32-sized heap.

Each ``test_*`` function in ``firmware/micropython/tests/test_*.py`` becomes one pytest case
(found by scanning the source, so collection costs no subprocess). ``test_mqtt_broker.py``
talks to the session's real Mosquitto.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from greeniot.services import MosquittoProcess
from tests.firmware.support import FIRMWARE, run_micropython

pytestmark = pytest.mark.firmware

_TESTS = sorted((FIRMWARE / "tests").glob("test_*.py"))
_CASES = [
    pytest.param(path, name, id=f"{path.stem}::{name}")
    for path in _TESTS
    for name in re.findall(r"^def (test_\w+)\(", path.read_text(), flags=re.MULTILINE)
]


def test_cases_were_found() -> None:
    files = {p.stem for p in _TESTS}
    assert {"test_mqtt_packets", "test_outbox", "test_sensors", "test_proto", "test_valve",
            "test_mqtt_broker"} <= files
    assert len(_CASES) >= 35


@pytest.mark.parametrize(("path", "name"), _CASES)
def test_on_micropython(path: Path, name: str, tmp_path: Path,
                        request: pytest.FixtureRequest) -> None:
    env = {"FW_TMP": str(tmp_path)}
    if path.stem == "test_mqtt_broker":
        broker: MosquittoProcess = request.getfixturevalue("mosquitto")
        env["GREENIOT_MQTT_PORT"] = str(broker.port)
    res = run_micropython(FIRMWARE / "tests" / "run.py", str(path), name, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert f"PASS {name}" in out, out
    assert "1 passed, 0 failed" in out, out
