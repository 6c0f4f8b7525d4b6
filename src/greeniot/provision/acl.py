"""Mosquitto ACL lines (2.0 ``acl_file`` syntax): each device may publish only its own up
channels under its own site and read only its own down channels; nothing else.

Explicit ``user`` blocks rather than ``pattern`` lines: a pattern has only ``%u``/``%c`` for
the device, so its site would be a ``+`` and a device could speak for any site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from greeniot.protocol.channels import CHANNELS
from greeniot.protocol.topics import ROOT, valid_id


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


def _granted(kind: str, direction: str) -> tuple[str, ...]:
    """The channels of ``direction`` the channel table gives devices of ``kind``."""
    return tuple(c.name for c in CHANNELS.values() if c.direction == direction
                 and (c.devices is None or kind in c.devices))


def up_channels(kind: str) -> tuple[str, ...]:
    """What a device of ``kind`` may publish (per-site channels, the forecast, come from the
    backend and name no device kind)."""
    ups = _granted(kind, "up")
    return (*(c for c in ups if c != "status"), "status") if "status" in ups else ups


def down_channels(kind: str) -> tuple[str, ...]:
    """What a device of ``kind`` may read: only valves take commands."""
    return _granted(kind, "down")


def device_acl(dev: DeviceId) -> list[str]:
    base = f"{ROOT}/{dev.site}/{dev.device}"
    lines = [f"user {dev.username}"]
    lines += [f"topic write {base}/{ch}" for ch in up_channels(dev.kind)]
    lines += [f"topic read {base}/{ch}" for ch in down_channels(dev.kind)]
    return lines


def devices_acl(devices: Iterable[DeviceId]) -> str:
    out = ["# Made by `greeniot devices provision`: one block per device, bound to its own",
           "# site and id. Anything not listed is refused.", ""]
    for dev in devices:
        out += [*device_acl(dev), ""]
    return "\n".join(out)
