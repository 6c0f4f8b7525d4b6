"""Mosquitto ACL lines (2.0 ``acl_file`` syntax): each device may publish only its own up
channels under its own site and read only its own down channels; nothing else.

Explicit ``user`` blocks rather than ``pattern`` lines: a pattern has only ``%u``/``%c`` for
the device, so its site would be a ``+`` and a device could speak for any site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from greeniot.protocol.channels import SITE_CHANNELS
from greeniot.protocol.topics import ROOT, UP_CHANNELS, valid_id

#: Up channels by device kind (every kind also has ``status``); others get all readings.
KIND_UP: dict[str, tuple[str, ...]] = {
    "soil": ("soil",),
    "tilt": ("tilt",),
    "weather": ("weather",),
    "valve": ("valve", "ack", "flow"),
}
#: Down channels by kind: only valves take commands.
KIND_DOWN: dict[str, tuple[str, ...]] = {"valve": ("cmd", "config", "stored")}
DEFAULT_DOWN = ("config", "stored")


@dataclass(frozen=True, slots=True)
class DeviceId:
    site: str
    device: str
    kind: str

    def __post_init__(self) -> None:
        for name, value in (("site", self.site), ("device", self.device)):
            if not valid_id(value):
                raise ValueError(f"invalid {name} id {value!r}")

    @property
    def username(self) -> str:
        """``{site}.{device}``: unique across sites ('.' is in no id)."""
        return f"{self.site}.{self.device}"


def up_channels(kind: str) -> tuple[str, ...]:
    # per-site channels (the forecast) come from the backend, never from a device
    ups = KIND_UP.get(kind, tuple(c for c in UP_CHANNELS
                                  if c not in ("status", "ack", *SITE_CHANNELS)))
    return (*ups, "status")


def device_acl(dev: DeviceId) -> list[str]:
    base = f"{ROOT}/{dev.site}/{dev.device}"
    lines = [f"user {dev.username}"]
    lines += [f"topic write {base}/{ch}" for ch in up_channels(dev.kind)]
    lines += [f"topic read {base}/{ch}" for ch in KIND_DOWN.get(dev.kind, DEFAULT_DOWN)]
    return lines


def devices_acl(devices: Iterable[DeviceId]) -> str:
    out = ["# Made by `greeniot devices provision`: one block per device, bound to its own",
           "# site and id. Anything not listed is refused.", ""]
    for dev in devices:
        out += [*device_acl(dev), ""]
    return "\n".join(out)
