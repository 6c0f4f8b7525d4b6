"""API models of accounts, tokens, the audit log and photo evidence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from greeniot.registry.accounts import AccountKind, Locale, Role


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Token(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserPublic(_Out):
    username: str
    display_name: str
    role: Role
    kind: AccountKind
    locale: Locale
    tz: str
    sites: list[str]
    disabled: bool
    created_ms: int
    updated_ms: int


class UserCreate(_In):
    username: str = Field(min_length=1, max_length=64, examples=["crew-li"])
    role: Role
    kind: AccountKind = "person"
    password: str | None = Field(None, min_length=8, max_length=256)
    display_name: str = Field("", max_length=120)
    locale: Locale = "zh_Hans"
    tz: str = Field("Asia/Shanghai", max_length=64)
    sites: list[str] = Field(default_factory=list, max_length=1000)


class UserUpdate(_In):
    role: Role | None = None
    password: str | None = Field(None, min_length=8, max_length=256)
    display_name: str | None = Field(None, max_length=120)
    locale: Locale | None = None
    tz: str | None = Field(None, max_length=64)
    sites: list[str] | None = Field(None, max_length=1000)
    disabled: bool | None = None


class ApiKeyCreate(_In):
    name: str = Field("", max_length=120, description="what the key is for")


class ApiKeyIssued(BaseModel):
    """The key is shown once; only its hash is kept."""

    id: int
    name: str
    api_key: str


class AuditPublic(_Out):
    id: int
    ts_ms: int
    actor: str
    action: str
    op: str
    entity: str
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class PhotoPublic(_Out):
    id: str
    task_id: int
    content_type: str
    size_bytes: int
    width: int
    height: int
    sha256: str
    uploaded_by: str
    note: str
    created_ms: int
    #: Where to fetch it (authorised users only).
    url: str = ""
