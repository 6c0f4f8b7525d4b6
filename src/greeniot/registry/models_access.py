"""Tables of accounts and access: users, their tokens, the audit log, photo evidence.

Kept apart from :mod:`greeniot.registry.models` (which imports this module at its end, so
that ``Base.metadata`` holds every table) and created by their own migration, ``0002_accounts``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from greeniot.registry.models import PERSON, Base

USERNAME = 64


class User(Base):
    """A person (logs in with a password) or a service account (uses API keys)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(USERNAME), unique=True)
    display_name: Mapped[str] = mapped_column(String(PERSON), default="")
    #: ``admin`` > ``operator`` > ``crew`` > ``viewer`` (api/security.py).
    role: Mapped[str] = mapped_column(String(16))
    #: ``person`` or ``service``.
    kind: Mapped[str] = mapped_column(String(16), default="person")
    #: argon2id PHC string; None for service accounts (they cannot log in with a password).
    password_hash: Mapped[str | None] = mapped_column(String(256))
    #: UI and notification language: ``zh_Hans`` or ``en``.
    locale: Mapped[str] = mapped_column(String(16), default="zh_Hans")
    #: IANA time zone for dates shown to this user.
    tz: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    #: Sites this user works on; empty = all sites.
    sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class AuthToken(Base):
    """A login token or an API key. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: ``session`` (from a login, expires) or ``api_key`` (a service account's, until revoked).
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(PERSON), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)


class AuditEntry(Base):
    """One change made through the API: who, what (table, key, route), when, before/after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_key", "entity", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(PERSON))
    #: The request that made the change, e.g. ``POST /api/v1/zones``.
    action: Mapped[str] = mapped_column(String(300))
    #: ``insert``, ``update``, ``delete`` or a named action (``valve_command``, ``login``).
    op: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TaskPhoto(Base):
    """A photo uploaded as close-out evidence; the file is under ``data_dir/photos``."""

    __tablename__ = "task_photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    #: As sniffed from the bytes (never the client's claim): image/jpeg, image/png, image/webp.
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: Relative to the photos folder.
    path: Mapped[str] = mapped_column(String(300))
    uploaded_by: Mapped[str] = mapped_column(String(PERSON))
    note: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
