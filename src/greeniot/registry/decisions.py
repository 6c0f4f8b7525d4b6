"""Watering decisions in the registry: record each one, list them, the newest per zone.

The planner (:mod:`greeniot.actions.watering`) decides; the executor records every decision
here, "no" included, with its inputs (``WateringDecision.record()``). After a restart the
newest decision of each zone tells the planner that today was decided already and gives the
water stage the balance it was based on (:func:`latest_per_zone`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greeniot.registry.errors import NotFoundError
from greeniot.registry.models_decisions import IrrigationDecision


class DecisionPublic(BaseModel):
    """A stored decision as the API and the CLI show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    site: str
    zone: str
    ts_ms: int
    day: int
    trigger: str
    outcome: str
    rule: str
    water: bool
    et0_mm: float
    etc_mm: float
    dr_mm: float
    raw_mm: float
    taw_mm: float
    rain_observed_mm: float
    rain_forecast_mm: float | None
    net_mm: float
    gross_mm: float
    run_s: int
    cycles: int
    lockouts: list[str]
    text: str
    record: dict[str, Any]


class DecisionLike(Protocol):
    """What the registry needs of a decision (``analytics.irrigation.decision.WateringDecision``
    offers it; this layer imports no analytics)."""

    @property
    def site(self) -> str: ...
    @property
    def zone(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    def columns(self) -> dict[str, Any]: ...
    def record(self) -> dict[str, Any]: ...


def decision_columns(d: DecisionLike) -> dict[str, Any]:
    """The decision's table columns (also the fields of its InfluxDB point)."""
    return d.columns()


def _row(d: DecisionLike, now_ms: int) -> IrrigationDecision:
    return IrrigationDecision(**decision_columns(d), record=_jsonable(d.record()),
                              created_ms=now_ms)


def _jsonable(v: Any) -> Any:
    """NaN and inf are not JSON: stored as null."""
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def record_decisions(session: Session, decisions: Iterable[DecisionLike], *,
                     now_ms: int) -> list[int]:
    """Store ``decisions``; a decision already stored (same zone and time) is kept once."""
    ids = []
    for d in decisions:
        old = session.scalar(select(IrrigationDecision).where(
            IrrigationDecision.site == d.site, IrrigationDecision.zone == d.zone,
            IrrigationDecision.ts_ms == d.ts_ms))
        if old is None:
            old = _row(d, now_ms)
            session.add(old)
            session.flush()
        ids.append(old.id)
    session.commit()
    return ids


def list_decisions(session: Session, *, site: str | None = None, zone: str | None = None,
                   outcome: str | None = None, since_ms: int | None = None,
                   until_ms: int | None = None, limit: int = 100, offset: int = 0
                   ) -> Sequence[IrrigationDecision]:
    """Newest first."""
    q = select(IrrigationDecision)
    if site is not None:
        q = q.where(IrrigationDecision.site == site)
    if zone is not None:
        q = q.where(IrrigationDecision.zone == zone)
    if outcome is not None:
        q = q.where(IrrigationDecision.outcome == outcome)
    if since_ms is not None:
        q = q.where(IrrigationDecision.ts_ms >= since_ms)
    if until_ms is not None:
        q = q.where(IrrigationDecision.ts_ms < until_ms)
    q = q.order_by(IrrigationDecision.ts_ms.desc(), IrrigationDecision.id.desc())
    return session.scalars(q.limit(limit).offset(offset)).all()


def get_decision(session: Session, *, decision_id: int) -> IrrigationDecision:
    row = session.get(IrrigationDecision, decision_id)
    if row is None:
        raise NotFoundError(f"irrigation decision {decision_id} does not exist")
    return row


def latest_per_zone(session: Session, *, until_ms: int | None = None
                    ) -> dict[tuple[str, str], IrrigationDecision]:
    """The newest decision of every zone (before ``until_ms`` when given)."""
    newest = select(IrrigationDecision.site, IrrigationDecision.zone,
                    func.max(IrrigationDecision.ts_ms).label("ts"))
    if until_ms is not None:
        newest = newest.where(IrrigationDecision.ts_ms < until_ms)
    sub = newest.group_by(IrrigationDecision.site, IrrigationDecision.zone).subquery()
    rows = session.scalars(select(IrrigationDecision).join(
        sub, (IrrigationDecision.site == sub.c.site) & (IrrigationDecision.zone == sub.c.zone)
        & (IrrigationDecision.ts_ms == sub.c.ts))).all()
    return {(r.site, r.zone): r for r in rows}
