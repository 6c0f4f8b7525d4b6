"""Pydantic models of the lifecycle tables at the API's edge: alarm history and deliveries,
alarm clears, alert routes, the roster (migration ``0003_lifecycle``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from greeniot.registry.accounts import Locale
from greeniot.registry.schemas import AlertPublic, Id, Person
from greeniot.registry.vocab import (
    AlarmState,
    ChainRole,
    DeliveryState,
    NotificationPhase,
    Severity,
    SinkKind,
)

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AlertHistoryPublic(_Out):
    ts_ms: int
    by: str
    from_state: AlarmState | None
    to_state: AlarmState
    severity: Severity
    note: str


class DeliveryPublic(_Out):
    """One notification to one recipient and what became of it (no target or secret)."""

    id: int
    ref: str
    phase: NotificationPhase
    recipient: str
    kind: SinkKind
    state: DeliveryState
    attempts: int
    last_error: str | None
    log: list[dict[str, Any]]
    in_digest: bool
    task_id: int | None
    created_ms: int
    updated_ms: int
    delivered_ms: int | None


class AlertDetail(AlertPublic):
    history: list[AlertHistoryPublic]
    deliveries: list[DeliveryPublic]


class AlertClear(_In):
    """Clear an alarm by hand: a note of why it is over (required); the actor is the caller."""

    note: Note


class RouteCreate(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=200)]
    kind: SinkKind
    #: ``mqtt``; an http(s) URL (webhook); or an apprise URL (``mailto://``, ``wecombot://``,
    #: ``dingtalk://``, ``tgram://`` ...).
    target: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000)]
    #: None: every site.
    site: Id | None = None
    min_severity: Severity = "warning"
    #: A webhook's signing key (at least 16 characters); never returned.
    secret: Annotated[str, Field(min_length=16, max_length=500)] | None = None
    rate_max: Annotated[int, Field(ge=1, le=100_000)] | None = None
    rate_window_s: Annotated[int, Field(ge=1, le=86_400)] | None = None
    #: The language and IANA time zone of the texts it gets; None: the delivery default
    #: language, the site's time zone.
    locale: Locale | None = None
    tz: Annotated[str, Field(max_length=64)] | None = None


class RoutePublic(BaseModel):
    name: str
    kind: SinkKind
    #: Secrets in the URL are hidden.
    target: str
    site: str | None
    min_severity: Severity
    has_secret: bool
    rate_max: int | None
    rate_window_s: int | None
    enabled: bool
    created_ms: int
    locale: str | None = None
    tz: str | None = None


class RosterCreate(_In):
    name: Person
    role: ChainRole
    rank: Annotated[int, Field(ge=0, le=1000)] = 0
    contact: Annotated[str, Field(max_length=200)] = ""
    #: An apprise URL or ``mqtt``; None: this person gets no notifications.
    notify_url: Annotated[str, Field(max_length=2000)] | None = None
    #: The language and time zone of this person's notifications; None: their user
    #: account's (same name), else the delivery default language and the site's zone.
    locale: Locale | None = None
    tz: Annotated[str, Field(max_length=64)] | None = None


class RosterPublic(BaseModel):
    site: str
    name: str
    role: ChainRole
    rank: int
    contact: str
    #: Secrets in the URL are hidden.
    notify_url: str | None
    active: bool
    created_ms: int
    locale: str | None = None
    tz: str | None = None
