"""A crew's confirmation that a tilt sensor was re-mounted: recorded, read back by analytics.

A moved or re-mounted sensor (``mount_moved``, a device check) holds back the tree's lean
alarms until its baseline is re-learned. The confirmation is an audit-log entry (who, when,
from when on) — no schema change; :func:`remount_times` gives the newest one per device, which
:func:`greeniot.registry.context.load_context` puts on the device's binding
(``DeviceBinding.remount_ms``), so the analytics process re-learns the baseline from then on at
its next registry refresh.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry import audit, crud
from greeniot.registry.errors import InvalidInputError
from greeniot.registry.models_access import AuditEntry

OP = "remount_confirmed"


def confirm_remount(session: Session, *, site: str, device: str, since_ms: int) -> int:
    """Record that ``device`` at ``site`` was re-mounted; its baseline is re-learned from
    ``since_ms`` [ms UTC]. Returns ``since_ms``. Raises NotFoundError for an unknown device,
    InvalidInputError for one that is not a tilt sensor."""
    dev = crud.get_device(session, site=site, device=device)
    if dev.kind != "tilt":
        raise InvalidInputError(f"device '{device}' is a {dev.kind} device; only tilt sensors "
                                "have a mount baseline")
    audit.record(session, op=OP, entity="devices", key=f"{site}/{device}",
                 after={"site": site, "device": device, "since_ms": int(since_ms)})
    session.commit()
    return int(since_ms)


def remount_times(session: Session) -> dict[tuple[str, str], int]:
    """The newest confirmed re-mount time per (site, device) [ms UTC]."""
    out: dict[tuple[str, str], int] = {}
    for after in session.scalars(select(AuditEntry.after).where(AuditEntry.op == OP)):
        if not isinstance(after, dict):
            continue
        key = (str(after.get("site")), str(after.get("device")))
        since = int(after.get("since_ms", 0))
        out[key] = max(out.get(key, 0), since)
    return out
