"""Sites, zones, trees (the ledger) and devices: create, read, update.

``get_*`` raise :class:`NotFoundError`; a body that refers to a site, tree or zone the registry
does not hold raises :class:`InvalidInputError`; a duplicate id raises :class:`ConflictError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Base, Device, Site, Tree, Zone
from greeniot.registry.schemas import (
    DeviceCreate,
    DeviceUpdate,
    SiteCreate,
    SiteUpdate,
    TreeCreate,
    TreeUpdate,
    ZoneCreate,
    ZoneUpdate,
)
from greeniot.registry.vocab import DEVICE_STATUSES

Row = TypeVar("Row", bound=Base)


def _now(now_ms: int | None) -> int:
    return wall_clock_ms() if now_ms is None else now_ms


def _insert(session: Session, row: Row, what: str) -> Row:
    session.add(row)
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise ConflictError(f"{what} already exists") from err
    return row


def _require_site(session: Session, site: str) -> None:
    if session.get(Site, site) is None:
        raise InvalidInputError(f"site '{site}' is not in the registry: create it first")


def _apply(row: Base, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


# --- sites ---------------------------------------------------------------------------------

def create_site(session: Session, *, data: SiteCreate, now_ms: int | None = None) -> Site:
    if session.get(Site, data.id) is not None:
        raise ConflictError(f"site '{data.id}' already exists")
    return _insert(session, Site(id=data.id, name=data.name, tz=data.tz,
                                         created_ms=_now(now_ms)),
                   f"site '{data.id}'")


def get_site(session: Session, *, site: str) -> Site:
    row = session.get(Site, site)
    if row is None:
        raise NotFoundError(f"site '{site}' not found")
    return row


def list_sites(session: Session) -> Sequence[Site]:
    return session.scalars(select(Site).order_by(Site.id)).all()


def update_site(session: Session, *, site: str, data: SiteUpdate) -> Site:
    row = get_site(session, site=site)
    changes = data.model_dump(exclude_unset=True)
    if "tz" in changes and changes["tz"] is None:
        raise InvalidInputError(f"site '{site}': tz cannot be cleared, only changed")
    _apply(row, changes)
    session.commit()
    return row


# --- zones ---------------------------------------------------------------------------------

def create_zone(session: Session, *, data: ZoneCreate) -> Zone:
    _require_site(session, data.site)
    if session.get(Zone, (data.site, data.id)) is not None:
        raise ConflictError(f"zone '{data.id}' already exists at site '{data.site}'")
    return _insert(session, Zone(**data.model_dump()), f"zone '{data.id}'")


def get_zone(session: Session, *, site: str, zone: str) -> Zone:
    row = session.get(Zone, (site, zone))
    if row is None:
        raise NotFoundError(f"zone '{zone}' not found at site '{site}'")
    return row


def list_zones(session: Session, *, site: str | None = None) -> Sequence[Zone]:
    query = select(Zone).order_by(Zone.site, Zone.id)
    if site is not None:
        query = query.where(Zone.site == site)
    return session.scalars(query).all()


def update_zone(session: Session, *, site: str, zone: str, data: ZoneUpdate) -> Zone:
    row = get_zone(session, site=site, zone=zone)
    changes = data.model_dump(exclude_unset=True)
    for name in ("refill_vwc_pct", "saturation_vwc_pct", "waterlog_hours", "max_run_s",
                 "min_interval_s", "daily_max_s"):
        if name in changes and changes[name] is None:
            raise InvalidInputError(f"zone '{zone}': {name} cannot be cleared, only changed")
    refill = changes.get("refill_vwc_pct", row.refill_vwc_pct)
    saturation = changes.get("saturation_vwc_pct", row.saturation_vwc_pct)
    if saturation <= refill:
        raise InvalidInputError(f"zone '{zone}': saturation_vwc_pct ({saturation}) must be "
                                f"above refill_vwc_pct ({refill})")
    _apply(row, changes)
    session.commit()
    return row


# --- trees ---------------------------------------------------------------------------------

def create_tree(session: Session, *, data: TreeCreate, now_ms: int | None = None) -> Tree:
    _require_site(session, data.site)
    if session.get(Tree, (data.site, data.id)) is not None:
        raise ConflictError(f"tree '{data.id}' already exists at site '{data.site}'")
    now = _now(now_ms)
    return _insert(session, Tree(**data.model_dump(), created_ms=now, updated_ms=now),
                   f"tree '{data.id}'")


def get_tree(session: Session, *, site: str, tree: str) -> Tree:
    row = session.get(Tree, (site, tree))
    if row is None:
        raise NotFoundError(f"tree '{tree}' not found at site '{site}'")
    return row


def list_trees(session: Session, *, site: str | None = None, heritage: bool | None = None,
               species: str | None = None, limit: int = 1000, offset: int = 0) -> Sequence[Tree]:
    query = select(Tree).order_by(Tree.site, Tree.id).limit(limit).offset(offset)
    if site is not None:
        query = query.where(Tree.site == site)
    if heritage is not None:
        query = query.where(Tree.heritage.is_(heritage))
    if species is not None:
        query = query.where(Tree.species == species)
    return session.scalars(query).all()


def update_tree(session: Session, *, site: str, tree: str, data: TreeUpdate,
                now_ms: int | None = None) -> Tree:
    row = get_tree(session, site=site, tree=tree)
    changes = data.model_dump(exclude_unset=True)
    for name in ("heritage", "notes"):
        if name in changes and changes[name] is None:
            raise InvalidInputError(f"tree '{tree}': {name} cannot be null")
    _apply(row, changes)
    row.updated_ms = _now(now_ms)
    session.commit()
    return row


# --- devices -------------------------------------------------------------------------------

def _check_binding(session: Session, site: str, tree_id: str | None,
                   zone_id: str | None, device: str) -> None:
    if tree_id is not None and session.get(Tree, (site, tree_id)) is None:
        raise InvalidInputError(
            f"device '{device}' is bound to tree '{tree_id}', which is not in the ledger of "
            f"site '{site}'"
        )
    if zone_id is not None and session.get(Zone, (site, zone_id)) is None:
        raise InvalidInputError(
            f"device '{device}' is bound to zone '{zone_id}', which site '{site}' does not have"
        )


def create_device(session: Session, *, data: DeviceCreate, now_ms: int | None = None) -> Device:
    _require_site(session, data.site)
    if session.get(Device, (data.site, data.id)) is not None:
        raise ConflictError(f"device '{data.id}' already exists at site '{data.site}'")
    _check_binding(session, data.site, data.tree_id, data.zone_id, data.id)
    return _insert(session, Device(**data.model_dump(), status="unknown",
                                   created_ms=_now(now_ms)), f"device '{data.id}'")


def get_device(session: Session, *, site: str, device: str) -> Device:
    row = session.get(Device, (site, device))
    if row is None:
        raise NotFoundError(f"device '{device}' not found at site '{site}'")
    return row


def list_devices(session: Session, *, site: str | None = None, kind: str | None = None,
                 status: str | None = None, tree_id: str | None = None,
                 zone_id: str | None = None) -> Sequence[Device]:
    query = select(Device).order_by(Device.site, Device.id)
    for column, value in ((Device.site, site), (Device.kind, kind), (Device.status, status),
                          (Device.tree_id, tree_id), (Device.zone_id, zone_id)):
        if value is not None:
            query = query.where(column == value)
    return session.scalars(query).all()


def update_device(session: Session, *, site: str, device: str, data: DeviceUpdate) -> Device:
    row = get_device(session, site=site, device=device)
    changes = data.model_dump(exclude_unset=True)
    if "kind" in changes and changes["kind"] is None:
        raise InvalidInputError(f"device '{device}': kind cannot be null")
    _check_binding(session, site, changes.get("tree_id"), changes.get("zone_id"), device)
    _apply(row, changes)
    session.commit()
    return row


def record_device_status(session: Session, *, site: str, device: str, status: str,
                         ts_ms: int, fw: str | None = None, bat_v: float | None = None,
                         commit: bool = True) -> Device | None:
    """Note a device's status message (online/offline/sleeping) and when it was last heard.

    Returns None, changing nothing, for a device the registry does not know (ingest stores its
    readings anyway; the ledger is edited by people). ``last_seen_ms`` never goes backwards, so a
    late, buffered status does not hide a newer one.
    """
    if status not in DEVICE_STATUSES:
        raise InvalidInputError(f"device status {status!r} is not one of {DEVICE_STATUSES}")
    row = session.get(Device, (site, device))
    if row is None:
        return None
    if row.last_seen_ms is None or ts_ms >= row.last_seen_ms:
        row.last_seen_ms = ts_ms
        row.status = status
        if fw is not None:
            row.fw = fw
        if bat_v is not None:
            row.bat_v = bat_v
    if commit:
        session.commit()
    return row
