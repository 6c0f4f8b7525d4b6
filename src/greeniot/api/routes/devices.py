"""Devices: their binding to a tree or zone, firmware, when last heard, status, battery."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from fastapi import status as http

from greeniot.api.deps import SessionDep
from greeniot.estate import DeviceKind
from greeniot.registry import crud
from greeniot.registry.models import Device
from greeniot.registry.schemas import DeviceCreate, DevicePublic, DeviceUpdate, Id
from greeniot.registry.vocab import DeviceStatus

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(session: SessionDep, site: Id | None = None, kind: DeviceKind | None = None,
                 status: DeviceStatus | None = None, tree: Id | None = None,
                 zone: Id | None = None) -> Sequence[Device]:
    return crud.list_devices(session, site=site, kind=kind, status=status, tree_id=tree,
                             zone_id=zone)


@router.post("", response_model=DevicePublic, status_code=http.HTTP_201_CREATED)
def create_device(session: SessionDep, body: DeviceCreate) -> Device:
    return crud.create_device(session, data=body)


@router.get("/{site}/{device}", response_model=DevicePublic)
def get_device(session: SessionDep, site: Id, device: Id) -> Device:
    return crud.get_device(session, site=site, device=device)


@router.patch("/{site}/{device}", response_model=DevicePublic)
def update_device(session: SessionDep, site: Id, device: Id, body: DeviceUpdate) -> Device:
    return crud.update_device(session, site=site, device=device, data=body)
