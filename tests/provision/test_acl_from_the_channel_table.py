"""The broker ACLs follow the channel table: a device is granted exactly the channels whose
row names its kind, and the shipped backend ACL lets ingest read every up channel."""

from __future__ import annotations

from pathlib import Path

from greeniot.protocol.channels import CHANNELS, Channel
from greeniot.provision.acl import DeviceId, device_acl

ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"


def test_each_device_kind_gets_the_channels_its_rows_name() -> None:
    extra = Channel("probe", CHANNELS["soil"].model, "up", devices=("soil",))
    assert extra.devices == ("soil",)  # the column a new channel's row fills in
    for kind in ("soil", "tilt", "weather", "valve"):
        lines = device_acl(DeviceId("estate-a", f"{kind}-1", kind))
        writes = {ln.rsplit("/", 1)[1] for ln in lines if ln.startswith("topic write")}
        reads = {ln.rsplit("/", 1)[1] for ln in lines if ln.startswith("topic read")}
        assert writes == {c.name for c in CHANNELS.values() if c.direction == "up"
                          and (c.devices is None or kind in c.devices)}, kind
        assert reads == {c.name for c in CHANNELS.values() if c.direction == "down"
                         and (c.devices is None or kind in c.devices)}, kind
        assert "forecast" not in writes  # per-site channels come from the backend only
        assert ("cmd" in reads) == (kind == "valve")
        assert all(f"greeniot/v1/estate-a/{kind}-1/" in ln for ln in lines[1:])


def test_the_shipped_backend_acl_lets_ingest_read_every_up_channel() -> None:
    blocks: dict[str, set[str]] = {}
    user = ""
    for ln in ACL.read_text().splitlines():
        if ln.startswith("user "):
            user = ln.split()[1]
        elif ln.startswith("topic read greeniot/v1/+/+/"):
            blocks.setdefault(user, set()).add(ln.rsplit("/", 1)[1])
    ups = {c.name for c in CHANNELS.values() if c.direction == "up"}
    assert blocks["greeniot-ingest"] == ups, "deploy/mosquitto/acl: ingest's read lines"
