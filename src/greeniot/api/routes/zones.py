"""Irrigation zones: thresholds, valve and watering limits per zone."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, status

from greeniot.api.deps import SessionDep
from greeniot.api.security import OperatorDep, ViewerDep
from greeniot.registry import crud
from greeniot.registry.models import Zone
from greeniot.registry.schemas import Id, ZoneCreate, ZonePublic, ZoneUpdate

router = APIRouter(prefix="/zones", tags=["zones"])


@router.get("", response_model=list[ZonePublic])
def list_zones(session: SessionDep, who: ViewerDep, site: Id | None = None) -> Sequence[Zone]:
    return crud.list_zones(session, site=site)


@router.post("", response_model=ZonePublic, status_code=status.HTTP_201_CREATED)
def create_zone(session: SessionDep, who: OperatorDep, body: ZoneCreate) -> Zone:
    return crud.create_zone(session, data=body)


@router.get("/{site}/{zone}", response_model=ZonePublic)
def get_zone(session: SessionDep, who: ViewerDep, site: Id, zone: Id) -> Zone:
    return crud.get_zone(session, site=site, zone=zone)


@router.patch("/{site}/{zone}", response_model=ZonePublic)
def update_zone(session: SessionDep, who: OperatorDep,
                site: Id, zone: Id, body: ZoneUpdate) -> Zone:
    return crud.update_zone(session, site=site, zone=zone, data=body)
