"""The watering decisions table: every daily decision of a water-balance zone, "no" included.

Kept apart from :mod:`greeniot.registry.models` (which imports this module at its end, so that
``Base.metadata`` holds it) and created by its own migration, ``0011_irrigation_decisions``.
The columns are what operators filter and chart on; ``record`` holds the whole decision as
``WateringDecision.record()`` gives it (inputs per probe, verdicts, the estimator's state), so
nothing the decision was based on is lost and the state can be rebuilt after a restart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from greeniot.registry.models import ID, Base


class IrrigationDecision(Base):
    """One decision of one zone at ``ts_ms`` (event time), from its balance of local ``day``."""

    __tablename__ = "irrigation_decisions"
    __table_args__ = (Index("ix_irrigation_decisions_zone_ts", "site", "zone", "ts_ms",
                            unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(ID))
    zone: Mapped[str] = mapped_column(String(ID))
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    #: local day (days since 1970-01-01) whose end-of-day balance the decision used
    day: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | on_demand
    outcome: Mapped[str] = mapped_column(String(16))  # water | not_needed | locked_out
    rule: Mapped[str] = mapped_column(String(24))  # mad | winter_watering | none
    water: Mapped[bool] = mapped_column(Boolean)
    et0_mm: Mapped[float] = mapped_column(Float)
    etc_mm: Mapped[float] = mapped_column(Float)
    dr_mm: Mapped[float] = mapped_column(Float)
    raw_mm: Mapped[float] = mapped_column(Float)
    taw_mm: Mapped[float] = mapped_column(Float)
    rain_observed_mm: Mapped[float] = mapped_column(Float)
    rain_forecast_mm: Mapped[float | None] = mapped_column(Float)
    net_mm: Mapped[float] = mapped_column(Float)
    gross_mm: Mapped[float] = mapped_column(Float)
    run_s: Mapped[int] = mapped_column(Integer)
    cycles: Mapped[int] = mapped_column(Integer)
    #: lockout and interlock reason codes that applied (lockouts.Lockout values and the
    #: executor's own: valve_open, cmd_pending, no_valve)
    lockouts: Mapped[list[str]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)  # WateringDecision.line()
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
