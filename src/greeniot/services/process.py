"""A child service in its own process group: started, polled until ready, killed at exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path

_LIVE: weakref.WeakSet[ChildService] = weakref.WeakSet()


class ServiceError(RuntimeError):
    """A service failed to start; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
               ) -> None:
    """Poll ``check`` until it is true or the deadline passes (then TimeoutError naming ``what``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


class ChildService:
    """Base for a service process. Subclasses write config and give argv + readiness check."""

    name = "service"

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- to override -------------------------------------------------------------------------
    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> ChildService:
        if self.running:
            return self
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            # Own session → own process group, so a kill reaches everything it spawned and a
            # Ctrl-C in the terminal does not race our orderly shutdown.
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.workdir,
            )
        finally:
            log.close()
        _LIVE.add(self)
        try:
            wait_until(lambda: self._check_alive() and self.ready(), timeout_s, f"{self.name}")
        except (TimeoutError, ServiceError) as err:
            self.stop()
            raise ServiceError(f"{self.name} did not start: {err}\n{self.log_tail()}") from err
        return self

    def _check_alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise ServiceError(f"{self.name} exited with code {self.proc.returncode}")
        return True

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``timeout_s``."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def kill(self) -> None:
        """SIGKILL at once (fault injection)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def log_tail(self, n: int = 20) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def __enter__(self) -> ChildService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for svc in list(_LIVE):
        with contextlib.suppress(Exception):
            svc.stop(timeout_s=3)
