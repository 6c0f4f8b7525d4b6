"""Who may call what: credentials → :class:`~greeniot.registry.accounts.Principal` → role check.

Every route takes one of ``ViewerDep``, ``CrewDep``, ``OperatorDep``, ``AdminDep`` (the acting
user, at least that role); ``tests/api/test_access.py`` walks the route table and fails on a
route without one. Credentials, in this order:

- ``Authorization: Bearer <token>``: a login token from ``POST /api/v1/auth/token`` (OAuth2
  password flow) or a service account's API key;
- ``X-API-Key: <key>``;
- the crew page's session cookie (the same login token), for GET and HEAD only: a browser
  sends cookies with any request, so a state change by cookie must come through the crew
  page's forms, which carry a CSRF token (api/crew.py).

No credential → 401 with ``WWW-Authenticate: Bearer``; a credential of too weak a role → 403.
The guard also names the actor and the request in the session for the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from greeniot.api.deps import SessionDep, released
from greeniot.registry import audit
from greeniot.registry.accounts import ROLE_RANK, Principal, resolve_token

TOKEN_URL = "/api/v1/auth/token"
COOKIE = "greeniot_session"
SAFE_METHODS = frozenset({"GET", "HEAD"})

oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False,
                              description="login token (password flow) or API key")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="a service account's API key")


class NotAuthenticatedError(HTTPException):
    def __init__(self, detail: str = "not authenticated: log in at " + TOKEN_URL) -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": "Bearer"})


def credential(request: Request, bearer: str | None, api_key: str | None) -> str | None:
    if bearer:
        return bearer
    if api_key:
        return api_key
    if request.method in SAFE_METHODS:
        return request.cookies.get(COOKIE) or None
    return None


class RoleGuard:
    """A dependency admitting principals of at least ``role``; ``role`` is read by tests."""

    def __init__(self, role: str) -> None:
        if role not in ROLE_RANK:
            raise ValueError(f"role {role!r} is not one of {list(ROLE_RANK)}")
        self.role = role

    async def __call__(self, request: Request, session: SessionDep,
                       bearer: Annotated[str | None, Depends(oauth2)],
                       api_key: Annotated[str | None, Depends(api_key_header)]) -> Principal:
        token = credential(request, bearer, api_key)
        if token is None:
            raise NotAuthenticatedError()
        principal = await released(session, resolve_token, session, token)
        if principal is None:
            raise NotAuthenticatedError("invalid, expired or revoked credential")
        if not principal.at_least(self.role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"needs role '{self.role}' or above; "
                                f"'{principal.username}' is '{principal.role}'")
        audit.set_actor(session, actor=principal.username,
                        action=f"{request.method} {request.url.path}")
        request.state.principal = principal
        return principal

    def __repr__(self) -> str:
        return f"RoleGuard({self.role!r})"


def require_site(principal: Principal, site: str) -> None:
    """403 unless ``principal`` works on ``site``."""
    if not principal.can_see(site):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"'{principal.username}' does not work on site '{site}'")


def csrf_token(secret: str, token: str) -> str:
    """The crew page's form token for a session: HMAC-SHA256(secret, session token)."""
    return hmac.new(secret.encode(), hashlib.sha256(token.encode()).digest(),
                    hashlib.sha256).hexdigest()


GUARDS: dict[str, RoleGuard] = {role: RoleGuard(role) for role in ROLE_RANK}
ViewerDep = Annotated[Principal, Depends(GUARDS["viewer"])]
CrewDep = Annotated[Principal, Depends(GUARDS["crew"])]
OperatorDep = Annotated[Principal, Depends(GUARDS["operator"])]
AdminDep = Annotated[Principal, Depends(GUARDS["admin"])]
