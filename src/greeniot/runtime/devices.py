"""Device status and last-seen time, from what devices send, for the registry (and the API).

A status message sets the state (``online``, ``offline``, ``sleeping``); any reading means the
device was heard at its timestamp. Changes are collected in memory and written in one
transaction per analytics tick, and only when something changed or the last-seen time moved
by more than :data:`SEEN_STEP_MS`: a fleet reporting every minute does not write the registry
every minute per device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pydantic import BaseModel

from greeniot.protocol.messages import Ack, Status

#: A last-seen time newer by less than this is not worth a registry write on its own [ms].
SEEN_STEP_MS = 5 * 60_000


@dataclass(frozen=True, slots=True)
class Seen:
    site: str
    device: str
    status: str
    ts_ms: int
    fw: str | None = None
    bat_v: float | None = None


class DeviceSeen:
    """What each device last said about itself; :meth:`take` yields what changed."""

    def __init__(self) -> None:
        self._now: dict[tuple[str, str], Seen] = {}
        self._written: dict[tuple[str, str], Seen] = {}

    def observe(self, site: str, device: str, msg: BaseModel, received_ms: int) -> None:
        key = (site, device)
        old = self._now.get(key)
        if isinstance(msg, Status):
            ts = msg.ts_ms or received_ms  # the last will carries no time
            if old is not None and ts < old.ts_ms:
                return  # a late, buffered status does not hide a newer one
            fw = msg.fw if msg.fw is not None else (old.fw if old else None)
            bat = msg.bat_v if msg.bat_v is not None else (old.bat_v if old else None)
            self._now[key] = Seen(site, device, msg.state, ts, fw, bat)
            return
        stamp = getattr(msg, "ts_ms", None)
        if not isinstance(stamp, int) or isinstance(msg, Ack):
            return
        ts = stamp
        if old is None:
            self._now[key] = Seen(site, device, "online", ts, None, getattr(msg, "bat_v", None))
        elif ts > old.ts_ms:
            bat = getattr(msg, "bat_v", None)
            # a reading after an offline status means the device is back
            status = "online" if old.status == "offline" else old.status
            self._now[key] = replace(old, status=status, ts_ms=ts,
                                     bat_v=bat if bat is not None else old.bat_v)

    def take(self) -> list[Seen]:
        """The devices whose status changed or whose last-seen time moved far enough."""
        out = []
        for key, now in self._now.items():
            was = self._written.get(key)
            if (was is None or was.status != now.status or was.fw != now.fw
                    or now.ts_ms - was.ts_ms >= SEEN_STEP_MS):
                out.append(now)
                self._written[key] = now
        return out

    def retry(self, failed: list[Seen]) -> None:
        """A write failed: offer these again at the next :meth:`take`."""
        for s in failed:
            self._written.pop((s.site, s.device), None)
