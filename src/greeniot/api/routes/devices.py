"""Devices: their binding to a tree or zone, firmware, when last heard, status, battery."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi import status as http
from pydantic import BaseModel, ConfigDict, Field

from greeniot.api.deps import SessionDep
from greeniot.api.security import CrewDep, OperatorDep, ViewerDep
from greeniot.estate import DeviceKind
from greeniot.registry import crud
from greeniot.registry.models import Device
from greeniot.registry.remount import confirm_remount
from greeniot.registry.schemas import DeviceCreate, DevicePublic, DeviceUpdate, Id
from greeniot.registry.vocab import DeviceStatus

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(session: SessionDep, who: ViewerDep,
                 site: Id | None = None, kind: DeviceKind | None = None,
                 status: DeviceStatus | None = None, tree: Id | None = None,
                 zone: Id | None = None) -> Sequence[Device]:
    return crud.list_devices(session, site=site, kind=kind, status=status, tree_id=tree,
                             zone_id=zone)


@router.post("", response_model=DevicePublic, status_code=http.HTTP_201_CREATED)
def create_device(session: SessionDep, who: OperatorDep, body: DeviceCreate) -> Device:
    return crud.create_device(session, data=body)


@router.get("/{site}/{device}", response_model=DevicePublic)
def get_device(session: SessionDep, who: ViewerDep, site: Id, device: Id) -> Device:
    return crud.get_device(session, site=site, device=device)


@router.patch("/{site}/{device}", response_model=DevicePublic)
def update_device(session: SessionDep, who: OperatorDep,
                  site: Id, device: Id, body: DeviceUpdate) -> Device:
    return crud.update_device(session, site=site, device=device, data=body)


class RemountConfirm(BaseModel):
    """A crew confirms a tilt sensor's re-mount: its baseline is re-learned from ``since_ms``."""

    model_config = ConfigDict(extra="forbid")
    since_ms: int = Field(ge=946_684_800_000, le=4_102_444_800_000,
                          description="re-learn the baseline from this time [ms UTC]")


class RemountConfirmed(BaseModel):
    site: str
    device: str
    since_ms: int


@router.post("/{site}/{device}/remount", response_model=RemountConfirmed)
def remount_device(session: SessionDep, who: CrewDep, site: Id, device: Id,
                   body: RemountConfirm) -> RemountConfirmed:
    """Record that the crew re-mounted this tilt sensor (after a ``mount_moved`` device check);
    analytics re-learns the tree's baseline from ``since_ms`` at its next registry refresh."""
    since = confirm_remount(session, site=site, device=device, since_ms=body.since_ms)
    return RemountConfirmed(site=site, device=device, since_ms=since)
