"""PostgreSQL (Debian ``postgresql``) on a free loopback port in a data folder of its own.

PostgreSQL refuses to run as root, so when we are root the server runs as the ``postgres``
system user (``setpriv``, which execs without a middle process, so the watchdog's kill reaches
the server itself). Its folder is made under the system temp dir, readable by that user, since
a root-only parent (pytest's ``/tmp/pytest-of-root``) would keep it out. Authentication is
``trust`` on loopback only: a throwaway server for tests and the demo, never a deployment.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from greeniot.services.process import ChildService, ServiceError, free_port

PG_USER = "postgres"  # the system account the Debian package creates
DB_USER = "greeniot"


def find_pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for ver in sorted(Path("/usr/lib/postgresql").glob("*"), reverse=True):
        cand = ver / "bin" / name
        if cand.exists():
            return str(cand)
    raise ServiceError(f"{name} not found: run scripts/setup.sh (apt package 'postgresql')")


class PostgresProcess(ChildService):
    """``with PostgresProcess() as pg: pg.url("mydb")``; :meth:`create_database` per test."""

    name = "postgres"

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        own = workdir is None
        base = Path(tempfile.mkdtemp(prefix="greeniot-pg-")) if own else Path(str(workdir))
        super().__init__(base)
        self._own_dir = own
        self.port = port or free_port()
        self.data_dir = self.workdir / "data"
        self.sock_dir = self.workdir / "sock"
        self._as_root = os.geteuid() == 0
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()

    def _drop(self) -> list[str]:
        """argv prefix that runs a command as the postgres user when we are root."""
        if not self._as_root:
            return []
        return [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={PG_USER}",
                f"--regid={PG_USER}", "--init-groups", "--"]

    def _initdb(self) -> None:
        for d in (self.data_dir, self.sock_dir):
            d.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            pw = pwd.getpwnam(PG_USER)
            os.chmod(self.workdir, 0o755)
            for d in (self.data_dir, self.sock_dir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        out = subprocess.run(
            [*self._drop(), find_pg_bin("initdb"), "-D", str(self.data_dir), "-U", DB_USER,
             "--auth=trust", "--encoding=UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120, check=False)
        if out.returncode != 0:
            raise ServiceError(f"initdb failed: {out.stdout}{out.stderr}")

    def argv(self) -> list[str]:
        return [*self._drop(), find_pg_bin("postgres"), "-D", str(self.data_dir),
                "-p", str(self.port), "-h", "127.0.0.1", "-k", str(self.sock_dir),
                "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200"]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                pass
        except OSError:
            return False
        out = subprocess.run([find_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p",
                              str(self.port), "-U", DB_USER], capture_output=True,
                             timeout=10, check=False)
        return out.returncode == 0

    def stop(self, timeout_s: float = 10.0) -> None:
        # SIGTERM is PostgreSQL's "smart" shutdown, which waits for clients to leave; a fast
        # shutdown ends their sessions (SIGINT), then the usual group kill as the backstop.
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([*self._drop(), find_pg_bin("pg_ctl"), "stop", "-m", "fast",
                                "-D", str(self.data_dir), "-w", "-t", str(int(timeout_s))],
                               capture_output=True, timeout=timeout_s + 5, check=False)
        super().stop(timeout_s)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str) -> str:
        """A new empty database; returns its URL."""
        out = subprocess.run([find_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", DB_USER, database], capture_output=True, text=True,
                             timeout=30, check=False)
        if out.returncode != 0:
            raise ServiceError(f"createdb {database} failed: {out.stderr.strip()}")
        return self.url(database)
