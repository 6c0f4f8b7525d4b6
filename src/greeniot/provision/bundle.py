"""Everything a fleet needs to log in: written by ``greeniot devices provision``.

Layout of the output folder::

    passwd             Mosquitto password file of the devices ($7$ hashes)
    acl                their ACL (each bound to its own site and id)
    credentials.json   username → password (mode 600; re-runs keep existing passwords)
    listener.conf      the device listener block to include in mosquitto.conf
    devices/{site}/{device}.json   firmware config.json for each node
    tls/               ca.crt, ca.key, server.crt, server.key (with --tls)

Device usernames are ``{site}.{device}`` and the device listener sets
``use_username_as_clientid true``: a node's session is its username, so no one can take over
another's client id, and a password alone never lets a device speak for another site or id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from greeniot.provision.acl import DeviceId, devices_acl
from greeniot.provision.passwd import new_password, password_line
from greeniot.provision.tls import TlsFiles, make_ca_and_server


@dataclass(frozen=True, slots=True)
class Bundle:
    out: Path
    passwd: Path
    acl: Path
    credentials: dict[str, str]
    listener_conf: Path
    device_configs: dict[str, Path]
    tls: TlsFiles | None


def _secret(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def listener_block(port: int, out: Path, *, tls: TlsFiles | None, bind: str | None = None
                   ) -> str:
    """The device listener for mosquitto.conf (needs ``per_listener_settings true``)."""
    lines = [f"listener {port}{' ' + bind if bind else ''}",
             "allow_anonymous false",
             "use_username_as_clientid true",
             f"password_file {out / 'passwd'}",
             f"acl_file {out / 'acl'}"]
    if tls is not None:
        lines += [f"cafile {tls.ca_cert}", f"certfile {tls.server_cert}",
                  f"keyfile {tls.server_key}", "tls_version tlsv1.2"]
    return "\n".join(lines) + "\n"


def provision(out: Path, devices: Sequence[DeviceId], *, mqtt_host: str, mqtt_port: int,
              tls: bool = False, tls_hosts: Sequence[str] = (), bind: str | None = None
              ) -> Bundle:
    """Write (or refresh) the bundle for ``devices``; existing passwords are kept."""
    out.mkdir(parents=True, exist_ok=True)
    cred_path = out / "credentials.json"
    old: dict[str, str] = {}
    if cred_path.exists():
        old = json.loads(cred_path.read_text())
    creds = {d.username: old.get(d.username) or new_password() for d in devices}
    if len(creds) != len(devices):
        raise ValueError("a device is listed twice")
    _secret(cred_path, json.dumps(creds, indent=1, sort_keys=True) + "\n")
    _secret(out / "passwd", "".join(password_line(u, p) + "\n" for u, p in creds.items()))
    (out / "acl").write_text(devices_acl(devices))
    tls_files = None
    if tls:
        tls_files = make_ca_and_server(out / "tls", list(tls_hosts) or [mqtt_host])
    listener = out / "listener.conf"
    listener.write_text(listener_block(mqtt_port, out, tls=tls_files, bind=bind))
    configs: dict[str, Path] = {}
    for d in devices:
        cfg: dict[str, object] = {"site": d.site, "device": d.device, "mqtt_host": mqtt_host,
                                  "mqtt_port": mqtt_port, "mqtt_user": d.username,
                                  "mqtt_password": creds[d.username]}
        if d.kind in ("soil", "tilt", "valve"):
            cfg["kind"] = d.kind
        if tls_files is not None:
            cfg["mqtt_tls"] = True
            cfg["mqtt_ca"] = "ca.crt"  # copy tls/ca.crt next to config.json on the node
        path = out / "devices" / d.site / f"{d.device}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        _secret(path, json.dumps(cfg, indent=1) + "\n")
        configs[d.username] = path
    return Bundle(out, out / "passwd", out / "acl", creds, listener, configs, tls_files)
