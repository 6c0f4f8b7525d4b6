"""Tables of the alarm and task lifecycle and of alert delivery (migration ``0003_lifecycle``).

- :class:`AlertHistory`: each step of an alarm (raised, escalated, acknowledged, cleared).
- :class:`RosterEntry`: the people of a site's responsibility chain (crew → contractor →
  property manager → authority), with a contact and the address notifications go to.
- :class:`AlertRoute`: a subscription: alerts of a site (or all sites) at or above a severity
  go to one recipient through one sink (MQTT, signed webhook, apprise URL), with its own rate
  limit.
- :class:`Delivery`: one notification to one recipient and what became of it (attempts,
  last error, delivered or folded into a digest).

Imported by :mod:`greeniot.registry.models`, whose ``Base`` they share.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from greeniot.registry.models import ID, NAME, PERSON, Base


class AlertHistory(Base):
    """One step of an alarm: who, when, from, to, at which severity, why."""

    __tablename__ = "alert_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"),
                                          index=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(PERSON))
    from_state: Mapped[str | None] = mapped_column(String(16))  # None: the alarm was raised
    to_state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class RosterEntry(Base):
    """A person on a site's responsibility chain."""

    __tablename__ = "roster"
    __table_args__ = (UniqueConstraint("site", "name", name="uq_roster_site_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(PERSON))
    role: Mapped[str] = mapped_column(String(24))  # vocab.CHAIN_ROLES
    #: Order within the role (lowest first): the first crew member is a new task's owner.
    rank: Mapped[int] = mapped_column(Integer, default=0)
    contact: Mapped[str] = mapped_column(String(NAME), default="")
    #: Where this person's notifications go: an apprise URL (``mailto://``, ``wecombot://``,
    #: ``dingtalk://``, ``tgram://`` ...) or ``mqtt`` (the site's alerts topic); None: nowhere.
    notify_url: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The language (``zh_Hans``, ``en``) and IANA zone of this person's notifications;
    #: None: their user account's (same name), else the delivery default and the site's zone.
    locale: Mapped[str | None] = mapped_column(String(16))
    tz: Mapped[str | None] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class AlertRoute(Base):
    """Alerts of ``site`` (None: every site) at or above ``min_severity`` → one recipient."""

    __tablename__ = "alert_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)  # the recipient's label
    site: Mapped[str | None] = mapped_column(String(ID))
    min_severity: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # vocab.SINK_KINDS
    target: Mapped[str] = mapped_column(Text)  # URL (webhook, apprise) or topic hint (mqtt)
    #: HMAC-SHA256 key of a webhook route (never returned by the API).
    secret: Mapped[str | None] = mapped_column(Text)
    #: At most ``rate_max`` messages per ``rate_window_s``; the rest fold into one digest.
    #: None: the settings' default (``GREENIOT_DELIVERY__RATE_MAX`` / ``__RATE_WINDOW_S``).
    rate_max: Mapped[int | None] = mapped_column(Integer)
    rate_window_s: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The language (``zh_Hans``, ``en``) and IANA zone of the texts this recipient gets;
    #: None: the delivery default language and the site's time zone.
    locale: Mapped[str | None] = mapped_column(String(16))
    tz: Mapped[str | None] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class Delivery(Base):
    """One notification to one recipient: the state of its delivery."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # A notification resubmitted (after a restart, say) is the same delivery, not a second.
        UniqueConstraint("ref", "recipient", name="uq_deliveries_ref_recipient"),
        Index("ix_deliveries_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: What is notified: ``alert:{id}:{phase}:{n}`` or ``task:{id}:sla:{level}``.
    ref: Mapped[str] = mapped_column(String(NAME))
    alert_id: Mapped[str | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(16))  # vocab.NotificationPhase
    #: ``route:{name}`` or ``person:{site}:{name}``: the unit of the rate limit.
    recipient: Mapped[str] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    #: The rendered notification: title, body, severity, site and the alert's protocol JSON.
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # vocab.DELIVERY_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Every attempt ``{"ts_ms", "ok", "error"?, "digest"?: n}``, and ``{"ts_ms", "held"}``
    #: when the rate limit held it back.
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: True when it went out folded into a digest with others held by the rate limit.
    in_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    delivered_ms: Mapped[int | None] = mapped_column(BigInteger)
