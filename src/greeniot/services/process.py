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


#: Runs the service under a tiny shell that holds a pipe from us on its stdin: when this
#: Python process dies (even by SIGKILL, when no atexit hook runs), the pipe reaches EOF and the
#: service is killed, so a crashed test run or demo never leaves a broker or database behind.
_WATCHDOG = (
    # sh gives background jobs /dev/null as stdin, so keep our pipe on fd 3 for the watcher.
    'exec 3<&0\n'
    '"$@" </dev/null 3<&- & svc=$!\n'
    '(while read -r _ <&3; do :; done; kill -KILL "$svc" 2>/dev/null) & dog=$!\n'
    'exec 3<&-\n'
    # SIGTERM to the shell is passed on, and the shell ends only after the service has.
    'trap \'kill -TERM "$svc" 2>/dev/null\' TERM\n'
    # SIGINT as SIGINT: a MicroPython node takes it as a planned shutdown (KeyboardInterrupt).
    'trap \'kill -INT "$svc" 2>/dev/null\' INT\n'
    # ...as are the signals services use for control (mosquitto: USR1 saves, HUP reloads).
    'trap \'kill -USR1 "$svc" 2>/dev/null\' USR1\n'
    'trap \'kill -USR2 "$svc" 2>/dev/null\' USR2\n'
    'trap \'kill -HUP "$svc" 2>/dev/null\' HUP\n'
    'while :; do wait "$svc"; rc=$?; kill -0 "$svc" 2>/dev/null || break; done\n'
    'kill "$dog" 2>/dev/null; wait "$dog" 2>/dev/null\n'
    'exit "$rc"\n'
)


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
    """Poll ``check`` until true; past the deadline raise TimeoutError naming ``what``."""
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
                ["/bin/sh", "-c", _WATCHDOG, f"greeniot-{self.name}", *self.argv()],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
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
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)  # the watchdog shell passes it on and waits
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        self._close_pipe(proc)

    @staticmethod
    def _close_pipe(proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()

    def kill(self) -> None:
        """SIGKILL at once (fault injection)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            self._close_pipe(proc)

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
