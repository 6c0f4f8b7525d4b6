"""Accounts (admin only): list, create, change, disable; API keys of service accounts; the
audit log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status

from greeniot.api.deps import SessionDep
from greeniot.api.schemas import Offset
from greeniot.api.schemas_access import (
    ApiKeyCreate,
    ApiKeyIssued,
    AuditPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from greeniot.api.security import AdminDep
from greeniot.registry import accounts, audit
from greeniot.registry.models_access import AuditEntry, User

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep, who: AdminDep) -> Sequence[User]:
    return accounts.list_users(session)


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "the username is taken"}})
def create_user(session: SessionDep, who: AdminDep, body: UserCreate) -> User:
    return accounts.create_user(session, **body.model_dump())


@router.get("/users/{username}", response_model=UserPublic)
def get_user(session: SessionDep, who: AdminDep, username: str) -> User:
    return accounts.get_user(session, username=username)


@router.patch("/users/{username}", response_model=UserPublic)
def update_user(session: SessionDep, who: AdminDep, username: str, body: UserUpdate) -> User:
    """``disabled: true`` also revokes every token and key of the account at once."""
    return accounts.update_user(session, username=username, **body.model_dump(
        exclude_unset=True))


@router.post("/users/{username}/api-keys", response_model=ApiKeyIssued,
             status_code=status.HTTP_201_CREATED)
def create_api_key(session: SessionDep, who: AdminDep, username: str,
                   body: ApiKeyCreate) -> ApiKeyIssued:
    """A key for a service account, shown once (send it as ``X-API-Key`` or bearer)."""
    user = accounts.get_user(session, username=username)
    key, row = accounts.issue_token(session, user=user, kind="api_key", name=body.name)
    return ApiKeyIssued(id=row.id, name=row.name, api_key=key)


@router.get("/audit", response_model=list[AuditPublic])
def list_audit(session: SessionDep, who: AdminDep, actor: str | None = None,
               entity: str | None = None, key: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Offset = 0) -> Sequence[AuditEntry]:
    """Newest first."""
    return audit.list_entries(session, actor=actor, entity=entity, key=key, limit=limit,
                              offset=offset)
