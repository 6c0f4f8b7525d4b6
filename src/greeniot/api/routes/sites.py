"""Sites: list, get, create, rename."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, status

from greeniot.api.deps import SessionDep
from greeniot.api.security import OperatorDep, ViewerDep
from greeniot.registry import crud
from greeniot.registry.models import Site
from greeniot.registry.schemas import Id, SiteCreate, SitePublic, SiteUpdate

router = APIRouter(prefix="/sites", tags=["sites"])


@router.get("", response_model=list[SitePublic])
def list_sites(session: SessionDep, who: ViewerDep) -> Sequence[Site]:
    return crud.list_sites(session)


@router.post("", response_model=SitePublic, status_code=status.HTTP_201_CREATED)
def create_site(session: SessionDep, who: OperatorDep, body: SiteCreate) -> Site:
    return crud.create_site(session, data=body)


@router.get("/{site}", response_model=SitePublic)
def get_site(session: SessionDep, who: ViewerDep, site: Id) -> Site:
    return crud.get_site(session, site=site)


@router.patch("/{site}", response_model=SitePublic)
def update_site(session: SessionDep, who: OperatorDep, site: Id, body: SiteUpdate) -> Site:
    return crud.update_site(session, site=site, data=body)
