"""``python -m greeniot.simulators`` works end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from greeniot.services import MosquittoProcess
from greeniot.simulators.__main__ import duration_s
from tests.simulators.conftest import Observer, wait_until


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("15m", 900.0), ("48h", 172800.0),
                                               ("2d", 172800.0), ("0.5h", 1800.0)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_s(text) == seconds


def test_print_fleet() -> None:
    out = subprocess.run([sys.executable, "-m", "greeniot.simulators", "--print-fleet",
                          "--trees", "3", "--zones", "2"],
                         capture_output=True, text=True, check=True).stdout
    reg = json.loads(out)
    assert [t["tree"] for t in reg["trees"]] == ["t001", "t002", "t003"]
    assert [z["zone"] for z in reg["zones"]] == ["z01", "z02"]


@pytest.mark.services
def test_cli_run_prints_truth(mosquitto: MosquittoProcess, observer: Observer,
                              site_id: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "greeniot.simulators", "--scenario", "calm",
         "--port", str(mosquitto.port), "--span", "2h", "--step", "10m", "--trees", "2",
         "--zones", "1", "--site-id", site_id],
        capture_output=True, text=True, check=True, timeout=60)
    out = json.loads(proc.stdout)
    assert out["truth"]["scenario"] == "calm" and out["truth"]["lean_steps"] == {}
    assert out["truth"]["end_ms"] - out["truth"]["start_ms"] == 7_200_000
    wait_until(lambda: observer.count() >= out["published"], 10, "the CLI's messages")
    assert observer.count() == out["published"]
