"""InfluxDB 1.x (Debian ``influxdb``) on a free loopback port in a data folder."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

from greeniot.services.process import ChildService, ServiceError, free_port


def find_influxd() -> str:
    found = shutil.which("influxd")
    if not found:
        raise ServiceError("influxd not found: run scripts/setup.sh (apt package 'influxdb')")
    return found


def influx_config(http_port: int, rpc_port: int, data_dir: Path) -> str:
    # Both listeners on loopback and on free ports, or a second instance dies with "address
    # already in use" on the default RPC port 8088.
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{data_dir}/meta"

[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1m"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  max-body-size = 0

[continuous_queries]
  enabled = false
"""


class InfluxProcess(ChildService):
    name = "influxd"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.conf_path = self.workdir / "influxdb.conf"
        self.conf_path.write_text(influx_config(self.port, self.rpc_port, self.workdir))

    def argv(self) -> list[str]:
        return [find_influxd(), "-config", str(self.conf_path)]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as resp:
                return bool(resp.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
