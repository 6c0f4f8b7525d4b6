"""Mosquitto on a free loopback port, configured so that it cannot drop a burst."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from greeniot.services.process import ChildService, ServiceError, free_port, port_open

MOSQUITTO_BIN_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
#: Bytes the broker may queue per client (beyond those in flight) before it drops; ingest's
#: ``GREENIOT_INGEST__BROKER_QUEUE_BYTES`` must match (its lag alert fires at half).
MAX_QUEUED_BYTES = 256 * 1024 * 1024
#: QoS 1 messages in flight toward one client: deep enough for ingest's batched acks (5000 per
#: batch, up to 4 batches settling), bounded so a slow consumer cannot pin unbounded memory.
MAX_INFLIGHT = 20_000


def find_mosquitto() -> str:
    found = shutil.which("mosquitto")
    if found:
        return found
    for cand in MOSQUITTO_BIN_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    raise ServiceError("mosquitto not found: run scripts/setup.sh (apt package 'mosquitto')")


def broker_config(port: int, data_dir: Path, *, persistence: bool = True,
                  max_queued_bytes: int = MAX_QUEUED_BYTES, sys_interval_s: int = 10) -> str:
    """The settings we ship (see deploy/mosquitto/mosquitto.conf).

    Mosquitto's defaults drop a burst silently: ``max_queued_messages`` 1000 per client and
    ``max_inflight_messages`` 20 toward a 3.1.1 client. We lift the count and bound by bytes
    instead; what the broker drops at that bound the senders resend, since ingest never
    confirmed it (docs/architecture.md).
    """
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        f"max_inflight_messages {MAX_INFLIGHT}",
        "max_queued_messages 0",
        f"max_queued_bytes {max_queued_bytes}",
        f"sys_interval {sys_interval_s}",
        "persistent_client_expiration 14d",
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {data_dir}/",
        "autosave_interval 10",
        # Running as root, mosquitto drops to user 'mosquitto' and then silently fails to write
        # persistence into a root-owned folder; stay as the invoking user.
        "user root" if os.geteuid() == 0 else "",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
    ]
    return "\n".join(line for line in lines if line) + "\n"


class MosquittoProcess(ChildService):
    name = "mosquitto"

    def __init__(self, workdir: Path, port: int | None = None, *, persistence: bool = True,
                 max_queued_bytes: int = MAX_QUEUED_BYTES, sys_interval_s: int = 10) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.conf_path = self.workdir / "mosquitto.conf"
        self.conf_path.write_text(broker_config(
            self.port, self.workdir, persistence=persistence, max_queued_bytes=max_queued_bytes,
            sys_interval_s=sys_interval_s))

    def argv(self) -> list[str]:
        return [find_mosquitto(), "-c", str(self.conf_path)]

    def ready(self) -> bool:
        return port_open(self.port)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"
