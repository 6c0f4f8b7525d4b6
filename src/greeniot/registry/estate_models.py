"""Tables of estate management: hotline complaints, the maintenance calendar, work records.

Like the workflow tables they carry site/tree as plain strings (a complaint about a tree the
ledger does not know yet is still recorded). Times are int ms UTC. Schema owned by migration
``0004_estate_mgmt``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from greeniot.registry.models import ID, NAME, PERSON, Base


class Complaint(Base):
    """A resident's complaint (12345 hotline, app, walk-in) and the reply given to them."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_site_received_ms", "site", "received_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    site: Mapped[str] = mapped_column(String(ID))
    tree: Mapped[str | None] = mapped_column(String(ID))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location: Mapped[str] = mapped_column(String(NAME), default="")
    #: Where repeats are counted: the tree, else the location text, else a ~11 m grid cell.
    location_key: Mapped[str] = mapped_column(String(NAME))
    category: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text, default="")
    #: Restricted: only roles allowed to contact residents may read these two.
    reporter_name: Mapped[str | None] = mapped_column(String(PERSON))
    reporter_phone: Mapped[str | None] = mapped_column(String(40))
    received_ms: Mapped[int] = mapped_column(BigInteger)
    reply_due_ms: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    #: True when the complaint joined a task that was already open.
    joined: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_ms: Mapped[int | None] = mapped_column(BigInteger)
    replied_by: Mapped[str | None] = mapped_column(String(PERSON))


class CalendarRule(Base):
    """Recurring seasonal work at a site: a window of local dates and a cadence within it."""

    __tablename__ = "calendar_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    work: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(NAME))
    start_md: Mapped[str] = mapped_column(String(5))  # "MM-DD", local date, inclusive
    end_md: Mapped[str] = mapped_column(String(5))  # may be before start: wraps the new year
    every_days: Mapped[int | None] = mapped_column(Integer)  # None: once per window
    hour_local: Mapped[int] = mapped_column(Integer, default=8)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    zone: Mapped[str | None] = mapped_column(String(ID))
    tree: Mapped[str | None] = mapped_column(String(ID))
    contractor: Mapped[str | None] = mapped_column(String(NAME))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class CalendarOccurrence(Base):
    """One occurrence of a rule that became a task; unique per rule and local date."""

    __tablename__ = "calendar_occurrences"
    __table_args__ = (UniqueConstraint("rule_id", "local_date",
                                       name="uq_calendar_occurrences_rule_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("calendar_rules.id", ondelete="CASCADE"))
    local_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the site's zone
    due_at_ms: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    created_ms: Mapped[int] = mapped_column(BigInteger)


class WorkRecord(Base):
    """What was done for a task: pest control with product and dose, pruning with approval."""

    __tablename__ = "work_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(PERSON))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
