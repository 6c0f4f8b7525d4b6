"""SQLAlchemy tables of the registry (typed 2.x ORM).

Estate objects (zones, trees, devices) are keyed by ``(site, id)``: device ids are unique per
site, as in the MQTT topic ``greeniot/v1/{site}/{device}/...``. Workflow records (tasks, alerts,
commands) carry site/tree/zone/device as plain strings without foreign keys on purpose: an
event about a device the ledger does not know yet must still become a task or an alert, never
fail to be recorded. Times are int ms UTC (``*_ms``, BigInteger).

The schema is owned by the Alembic migrations in ``migrations/versions``; a test compares them
with these classes, so a change here needs a new migration.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ID = 64  # protocol id length: [a-z0-9][a-z0-9_-]{0,63}
NAME = 200
PERSON = 120

#: Constraint names fixed by convention so that migrations can address them on any database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ACTIVE_TASK_SQL = "state IN ('open', 'acknowledged', 'assigned', 'in_progress')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    #: IANA time zone of the site: the maintenance calendar's local dates (migration 0004).
    tz: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Irrigation (migration 0006): where the site is, for FAO-56 ET0.
    lat_deg: Mapped[float | None] = mapped_column(Float)
    elevation_m: Mapped[float | None] = mapped_column(Float)


class Zone(Base):
    """An irrigation zone: its soil-moisture thresholds, valve and watering limits."""

    __tablename__ = "zones"

    site: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), default="")
    refill_vwc_pct: Mapped[float] = mapped_column(Float)
    saturation_vwc_pct: Mapped[float] = mapped_column(Float)
    waterlog_hours: Mapped[float] = mapped_column(Float)
    valve_device: Mapped[str | None] = mapped_column(String(ID))
    max_run_s: Mapped[int] = mapped_column(Integer)
    min_interval_s: Mapped[int] = mapped_column(Integer)
    daily_max_s: Mapped[int] = mapped_column(Integer)
    #: Rain expected in the coming forecast window [mm], set by a forecast feed; None = unknown.
    rain_forecast_mm: Mapped[float | None] = mapped_column(Float)
    # Water balance (migration 0006, docs/irrigation.md). Server defaults keep old rows valid.
    irrigation_kind: Mapped[str | None] = mapped_column(String(16))  # drip | rotor | spray ...
    soil_texture: Mapped[str | None] = mapped_column(String(24))  # FAO-56 Table 19 class
    theta_fc: Mapped[float | None] = mapped_column(Float)  # m3/m3; None = texture default
    theta_wp: Mapped[float | None] = mapped_column(Float)  # m3/m3; None = texture default
    root_depth_m: Mapped[float] = mapped_column(Float, default=0.3, server_default="0.3")
    kc: Mapped[float] = mapped_column(Float, default=0.8, server_default="0.8")
    kc_monthly: Mapped[list[float] | None] = mapped_column(JSON)  # 12 values, Jan..Dec
    mad_p: Mapped[float] = mapped_column(Float, default=0.5, server_default="0.5")
    application_rate_mm_h: Mapped[float | None] = mapped_column(Float)
    efficiency: Mapped[float] = mapped_column(Float, default=0.8, server_default="0.8")
    area_m2: Mapped[float | None] = mapped_column(Float)
    soak_s: Mapped[int] = mapped_column(Integer, default=1800, server_default="1800")
    water_budget_l_day: Mapped[float | None] = mapped_column(Float)
    target_dr_mm: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class Tree(Base):
    """One row of the tree ledger."""

    __tablename__ = "trees"

    site: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    species: Mapped[str | None] = mapped_column(String(NAME))
    height_m: Mapped[float | None] = mapped_column(Float)
    dbh_cm: Mapped[float | None] = mapped_column(Float)  # trunk diameter at breast height
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    heritage: Mapped[bool] = mapped_column(Boolean, default=False)
    heritage_name: Mapped[str | None] = mapped_column(String(NAME))
    planted_year: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    # Crown geometry for the sunlight check, and retirement (migration 0004): a felled or
    # replaced tree keeps its row and its tasks; the successor names its predecessor.
    crown_radius_m: Mapped[float | None] = mapped_column(Float)
    crown_base_m: Mapped[float | None] = mapped_column(Float)  # height of the crown's bottom
    crown_shape: Mapped[str | None] = mapped_column(String(16))  # ellipsoid | cone
    retired_ms: Mapped[int | None] = mapped_column(BigInteger)
    retired_reason: Mapped[str | None] = mapped_column(String(16))
    retired_note: Mapped[str | None] = mapped_column(Text)
    successor_id: Mapped[str | None] = mapped_column(String(ID))
    predecessor_id: Mapped[str | None] = mapped_column(String(ID))


class Device(Base):
    """A field node and what it is bound to (a tilt sensor to a tree, a probe/valve to a zone)."""

    __tablename__ = "devices"
    __table_args__ = (
        ForeignKeyConstraint(["site", "tree_id"], ["trees.site", "trees.id"],
                             name="fk_devices_tree"),
        ForeignKeyConstraint(["site", "zone_id"], ["zones.site", "zones.id"],
                             name="fk_devices_zone"),
    )

    site: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    tree_id: Mapped[str | None] = mapped_column(String(ID))
    zone_id: Mapped[str | None] = mapped_column(String(ID))
    fw: Mapped[str | None] = mapped_column(String(32))
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    bat_v: Mapped[float | None] = mapped_column(Float)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    # Soil probes (migration 0006): index → θ calibration, trust weight, crew-flagged fault.
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    probe_weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    probe_faulty: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Task(Base):
    """A crew task from its opening to its close-out with evidence."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_site_state", "site", "state"),
        # At most one active task per dedup key, enforced by the database itself so that two
        # processes opening the same task at once cannot both succeed.
        Index("uq_tasks_active_dedup_key", "dedup_key", unique=True,
              sqlite_where=text(_ACTIVE_TASK_SQL), postgresql_where=text(_ACTIVE_TASK_SQL)),
        # One active task per subject and family of work (migration 0003_lifecycle).
        Index("uq_tasks_active_work_key", "work_key", unique=True,
              sqlite_where=text(_ACTIVE_TASK_SQL), postgresql_where=text(_ACTIVE_TASK_SQL)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(24))
    priority: Mapped[int] = mapped_column(Integer)
    #: Copied from the ledger (or the event) at creation: heritage trees are handled first.
    heritage: Mapped[bool] = mapped_column(Boolean, default=False)
    tree: Mapped[str | None] = mapped_column(String(ID))
    zone: Mapped[str | None] = mapped_column(String(ID))
    device: Mapped[str | None] = mapped_column(String(ID))
    title: Mapped[str] = mapped_column(String(NAME))
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")
    #: The first responsible person, accountable until close-out (required at assignment).
    owner: Mapped[str | None] = mapped_column(String(PERSON))
    assignee: Mapped[str | None] = mapped_column(String(PERSON))
    #: The organisation doing the work (scored per month; migration 0004).
    contractor: Mapped[str | None] = mapped_column(String(NAME))
    created_by: Mapped[str] = mapped_column(String(PERSON), default="system")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    ack_ms: Mapped[int | None] = mapped_column(BigInteger)
    assigned_ms: Mapped[int | None] = mapped_column(BigInteger)
    started_ms: Mapped[int | None] = mapped_column(BigInteger)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)  # closed or cancelled
    due_ms: Mapped[int | None] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    close_note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dedup_key: Mapped[str | None] = mapped_column(String(NAME))
    source_event: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: ``"{family}:{site}:{subject}"`` (see ``vocab.WORK_FAMILIES``): related work on one tree
    #: or zone is one task, whichever rule raised it.
    work_key: Mapped[str | None] = mapped_column(String(NAME))
    #: Who holds the task now along the site's responsibility chain (starts as ``owner``).
    responsible: Mapped[str | None] = mapped_column(String(PERSON))
    #: Times the SLA passed and the task moved up the chain; when it last did.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_ms: Mapped[int | None] = mapped_column(BigInteger)

    history: Mapped[list[TaskHistory]] = relationship(
        back_populates="task", order_by="TaskHistory.id", cascade="all, delete-orphan",
        lazy="selectin",
    )


class TaskHistory(Base):
    """One state change of a task: who, when, from, to, why."""

    __tablename__ = "task_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(PERSON))
    from_state: Mapped[str | None] = mapped_column(String(16))  # None: the task was created
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

    task: Mapped[Task] = relationship(back_populates="history")


_LIVE_ALARM_SQL = "state IN ('active', 'acknowledged')"


class Alert(Base):
    """An alarm for operators: active → acknowledged → cleared; repeats only bump ``count``."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_site_ts_ms", "site", "ts_ms"),
        # One live (not cleared) alarm per subject and type (migration 0003_lifecycle).
        Index("uq_alerts_live_dedup_key", "dedup_key", unique=True,
              sqlite_where=text(_LIVE_ALARM_SQL), postgresql_where=text(_LIVE_ALARM_SQL)),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    site: Mapped[str] = mapped_column(String(ID))
    ts_ms: Mapped[int] = mapped_column(BigInteger)  # event time of the first occurrence
    last_ts_ms: Mapped[int] = mapped_column(BigInteger)  # event time of the latest repeat
    count: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    device: Mapped[str | None] = mapped_column(String(ID))
    tree: Mapped[str | None] = mapped_column(String(ID))
    zone: Mapped[str | None] = mapped_column(String(ID))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_by: Mapped[str | None] = mapped_column(String(PERSON))
    ack_ms: Mapped[int | None] = mapped_column(BigInteger)
    dedup_key: Mapped[str | None] = mapped_column(String(NAME))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    cleared_ms: Mapped[int | None] = mapped_column(BigInteger)
    cleared_by: Mapped[str | None] = mapped_column(String(PERSON))
    clear_note: Mapped[str | None] = mapped_column(Text)

    history: Mapped[list[AlertHistory]] = relationship(
        order_by="AlertHistory.id", cascade="all, delete-orphan", lazy="selectin",
    )


class Command(Base):
    """A command sent to a valve node and what became of it (the node's ack or the deadline)."""

    __tablename__ = "commands"
    __table_args__ = (
        Index("ix_commands_site_device", "site", "device"),
        Index("ix_commands_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)  # "c-…", echoed by the ack
    site: Mapped[str] = mapped_column(String(ID))
    device: Mapped[str] = mapped_column(String(ID))
    zone: Mapped[str | None] = mapped_column(String(ID))
    op: Mapped[str] = mapped_column(String(8))
    max_run_s: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    deadline_ms: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    sent_ms: Mapped[int | None] = mapped_column(BigInteger)
    ack_ms: Mapped[int | None] = mapped_column(BigInteger)  # the node's timestamp in its ack
    ack_reason: Mapped[str | None] = mapped_column(Text)  # refusal reason, or why it failed
    valve_state: Mapped[str | None] = mapped_column(String(8))  # as reported in the ack


# Tables of the alarm/task lifecycle and alert delivery (migration 0003_lifecycle), kept in
# their own module; imported here so that ``Base.metadata`` is complete.
# Tables of estate management (complaints, calendar, work records) live in their own module;
# imported here so that ``Base.metadata`` always holds them.
from greeniot.registry import estate_models as _estate_models  # noqa: E402, F401

# Access tables (users, tokens, audit log, photos) live in their own module; importing it here
# puts them into Base.metadata for migrations and their comparison test.
from greeniot.registry import models_access as _models_access  # noqa: E402, F401

# Watering decisions (migration 0011_irrigation_decisions) live in their own module.
from greeniot.registry import models_decisions as _models_decisions  # noqa: E402, F401

# Seasonal sway baselines (migration 0013_sway_seasons) live in their own module.
from greeniot.registry import sway_baselines as _sway_baselines  # noqa: E402, F401
from greeniot.registry.models_lifecycle import AlertHistory as AlertHistory  # noqa: E402
from greeniot.registry.models_lifecycle import AlertRoute as AlertRoute  # noqa: E402
from greeniot.registry.models_lifecycle import Delivery as Delivery  # noqa: E402
from greeniot.registry.models_lifecycle import RosterEntry as RosterEntry  # noqa: E402
