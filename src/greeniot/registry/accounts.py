"""Users, passwords and tokens: create and change accounts, log in, resolve a credential.

Passwords are hashed with argon2id through argon2-cffi (RFC 9106 parameters as the library
chooses them; a hash made with older parameters is upgraded at the next login). Tokens are
opaque random strings (256 bits from :mod:`secrets`); only their SHA-256 is stored, so a copy
of the database lets nobody log in. A login token (``gs_…``) expires; a service account's API
key (``gk_…``) lasts until revoked. Every request looks its token up, so disabling a user or
revoking a key takes effect at once — the reason for opaque tokens over self-contained JWTs,
which stay valid until they expire.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.protocol.topics import ID_RE
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models_access import AuthToken, User

Role = Literal["viewer", "crew", "operator", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
#: Role → rank; a route needing rank r admits every role of rank ≥ r.
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}
AccountKind = Literal["person", "service"]
Locale = Literal["zh_Hans", "en"]
LOCALES: tuple[str, ...] = get_args(Locale)
SESSION_PREFIX, API_KEY_PREFIX = "gs_", "gk_"
#: Shortest password accepted (NIST SP 800-63B §5.1.1.2 asks for at least 8).
MIN_PASSWORD_LEN = 8

_HASHER = PasswordHasher()
# Verified when the user does not exist, so that a login takes as long either way.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the user behind a credential (what the routes and the audit log see)."""

    id: int
    username: str
    role: str
    kind: str
    locale: str
    tz: str
    sites: tuple[str, ...]
    token_id: int

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def can_see(self, site: str) -> bool:
        """Empty ``sites``: every site."""
        return not self.sites or site in self.sites


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not ID_RE.fullmatch(name):
        raise InvalidInputError(f"username {username!r} must match {ID_RE.pattern} "
                                "(lower-case letters, digits, '-' and '_')")
    return name


def _check_choice(value: str, allowed: Iterable[str], what: str) -> str:
    options = tuple(allowed)
    if value not in options:
        raise InvalidInputError(f"{what} {value!r} is not one of {list(options)}")
    return value


def _check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:  # "America" is a folder
        raise InvalidInputError(f"time zone {tz!r} is not an IANA zone name") from err
    return tz


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LEN:
        raise InvalidInputError(f"password must have at least {MIN_PASSWORD_LEN} characters")
    return str(_HASHER.hash(password))


def create_user(session: Session, *, username: str, role: str, password: str | None = None,
                kind: str = "person", display_name: str = "", locale: str = "zh_Hans",
                tz: str = "Asia/Shanghai", sites: Sequence[str] = (),
                now_ms: int | None = None) -> User:
    """A new account. A person needs a password; a service account must not have one."""
    name = _check_username(username)
    _check_choice(role, ROLES, "role")
    _check_choice(kind, get_args(AccountKind), "account kind")
    _check_choice(locale, LOCALES, "locale")
    if kind == "person" and not password:
        raise InvalidInputError(f"user {name!r}: a person's account needs a password")
    if kind == "service" and password:
        raise InvalidInputError(f"user {name!r}: a service account uses API keys, "
                                "not a password")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"user {name!r} already exists")
    now = wall_clock_ms() if now_ms is None else now_ms
    user = User(username=name, role=role, kind=kind, display_name=display_name.strip(),
                password_hash=_hash_password(password) if password else None, locale=locale,
                tz=_check_tz(tz), sites=sorted(set(sites)), disabled=False, created_ms=now,
                updated_ms=now)
    session.add(user)
    session.commit()
    return user


def get_user(session: Session, *, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFoundError(f"user {username!r} not found")
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def update_user(session: Session, *, username: str, role: str | None = None,
                display_name: str | None = None, password: str | None = None,
                locale: str | None = None, tz: str | None = None,
                sites: Sequence[str] | None = None, disabled: bool | None = None,
                now_ms: int | None = None) -> User:
    """Change an account; disabling it also revokes all its tokens and keys."""
    user = get_user(session, username=username)
    now = wall_clock_ms() if now_ms is None else now_ms
    if role is not None:
        user.role = _check_choice(role, ROLES, "role")
    if display_name is not None:
        user.display_name = display_name.strip()
    if password is not None:
        if user.kind == "service":
            raise InvalidInputError(f"user {user.username!r} is a service account: "
                                    "no password")
        user.password_hash = _hash_password(password)
    if locale is not None:
        user.locale = _check_choice(locale, LOCALES, "locale")
    if tz is not None:
        user.tz = _check_tz(tz)
    if sites is not None:
        user.sites = sorted(set(sites))
    if disabled is not None:
        user.disabled = disabled
        if disabled:
            for token in session.scalars(select(AuthToken).where(
                    AuthToken.user_id == user.id, AuthToken.revoked_ms.is_(None))):
                token.revoked_ms = now
    user.updated_ms = now
    session.commit()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The enabled person with this password, or None (no hint which part was wrong)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    stored = user.password_hash if user is not None else None
    try:
        _HASHER.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None or user.disabled:
        return None
    if _HASHER.check_needs_rehash(stored):
        user.password_hash = _HASHER.hash(password)
    return user


def issue_token(session: Session, *, user: User, kind: Literal["session", "api_key"],
                ttl_s: int | None = None, name: str = "",
                now_ms: int | None = None) -> tuple[str, AuthToken]:
    """A new token for ``user``; the plain token is returned once and never stored."""
    if kind == "api_key" and user.kind != "service":
        raise InvalidInputError(f"user {user.username!r} is a person: API keys are for "
                                "service accounts")
    now = wall_clock_ms() if now_ms is None else now_ms
    plain = (SESSION_PREFIX if kind == "session" else API_KEY_PREFIX) + secrets.token_urlsafe(32)
    row = AuthToken(token_hash=hash_token(plain), user_id=user.id, kind=kind, name=name,
                    created_ms=now, expires_ms=None if ttl_s is None else now + ttl_s * 1000)
    session.add(row)
    session.commit()
    return plain, row


def resolve_token(session: Session, token: str, *, now_ms: int | None = None
                  ) -> Principal | None:
    """The principal behind ``token``, or None if unknown, expired, revoked or disabled."""
    now = wall_clock_ms() if now_ms is None else now_ms
    row = session.execute(
        select(AuthToken, User).join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == hash_token(token))).first()
    if row is None:
        return None
    tok, user = row
    if (tok.revoked_ms is not None or user.disabled
            or (tok.expires_ms is not None and tok.expires_ms <= now)):
        return None
    return Principal(id=user.id, username=user.username, role=user.role, kind=user.kind,
                     locale=user.locale, tz=user.tz, sites=tuple(user.sites),
                     token_id=tok.id)


def revoke_token(session: Session, *, token_id: int, now_ms: int | None = None) -> None:
    tok = session.get(AuthToken, token_id)
    if tok is not None and tok.revoked_ms is None:
        tok.revoked_ms = wall_clock_ms() if now_ms is None else now_ms
        session.commit()


def ensure_role_accounts(session: Session, *, prefix: str = "demo",
                         sites: Sequence[str] = (), locale: str = "zh_Hans"
                         ) -> dict[str, str | None]:
    """One person per role (``demo-admin``, ``demo-operator``, ``demo-crew``, ``demo-viewer``)
    with a fresh random password each; ``{username: password}``, None for an account that
    already existed (its password is left alone)."""
    out: dict[str, str | None] = {}
    for role in reversed(ROLES):
        name = f"{prefix}-{role}"
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            out[name] = None
            continue
        pw = secrets.token_urlsafe(9)
        create_user(session, username=name, role=role, password=pw, locale=locale,
                    sites=sites, display_name=f"{prefix} {role}")
        out[name] = pw
    return out
