"""The tree ledger: every tree of every site, heritage trees flagged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status

from greeniot.api.deps import SessionDep
from greeniot.api.schemas import Offset
from greeniot.api.security import OperatorDep, ViewerDep
from greeniot.registry import crud
from greeniot.registry.models import Tree
from greeniot.registry.schemas import Id, TreeCreate, TreePublic, TreeUpdate

router = APIRouter(prefix="/trees", tags=["trees"])


@router.get("", response_model=list[TreePublic])
def list_trees(session: SessionDep, who: ViewerDep,
               site: Id | None = None, heritage: bool | None = None,
               species: str | None = None,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
               offset: Offset = 0) -> Sequence[Tree]:
    return crud.list_trees(session, site=site, heritage=heritage, species=species, limit=limit,
                           offset=offset)


@router.post("", response_model=TreePublic, status_code=status.HTTP_201_CREATED)
def create_tree(session: SessionDep, who: OperatorDep, body: TreeCreate) -> Tree:
    return crud.create_tree(session, data=body)


@router.get("/{site}/{tree}", response_model=TreePublic)
def get_tree(session: SessionDep, who: ViewerDep, site: Id, tree: Id) -> Tree:
    return crud.get_tree(session, site=site, tree=tree)


@router.patch("/{site}/{tree}", response_model=TreePublic)
def update_tree(session: SessionDep, who: OperatorDep,
                site: Id, tree: Id, body: TreeUpdate) -> Tree:
    return crud.update_tree(session, site=site, tree=tree, data=body)
