"""Log in (OAuth2 password flow, as FastAPI documents it), log out, and who am I.

``POST /auth/token`` takes the form fields ``username`` and ``password`` and answers a bearer
token valid for ``GREENIOT_AUTH__TOKEN_TTL_S``; a wrong name or password gets the same 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session

from greeniot.api.deps import SessionDep, SettingsDep
from greeniot.api.schemas_access import Token, UserPublic
from greeniot.api.security import TOKEN_URL, ViewerDep
from greeniot.config import Settings
from greeniot.registry import accounts, audit
from greeniot.registry.models_access import User

router = APIRouter(prefix="/auth", tags=["auth"])


def login(session: Session, settings: Settings, username: str, password: str) -> str | None:
    """A new session token for a valid person's password, or None. Audited as ``login``."""
    user = accounts.authenticate(session, username=username, password=password)
    if user is None:
        return None
    audit.set_actor(session, actor=user.username, action=f"POST {TOKEN_URL}")
    token, _row = accounts.issue_token(session, user=user, kind="session",
                                       ttl_s=settings.auth.token_ttl_s, name="login")
    return token


@router.post("/token", response_model=Token,
             responses={401: {"description": "wrong username or password"}})
def token(session: SessionDep, settings: SettingsDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """The only route open to anonymous callers besides ``/health`` and the docs."""
    issued = login(session, settings, form.username, form.password)
    if issued is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    return Token(access_token=issued, expires_in=settings.auth.token_ttl_s)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, who: ViewerDep) -> None:
    """End the credential of this request (a login token or an API key)."""
    accounts.revoke_token(session, token_id=who.token_id)


@router.get("/me", response_model=UserPublic)
def me(session: SessionDep, who: ViewerDep) -> User:
    user: User = accounts.get_user(session, username=who.username)
    return user

