"""Watering decisions: every daily decision of a water-balance zone, "no" included, with its
inputs (ET0, Dr, RAW, TAW, rain observed and forecast, θ per probe, interlock verdicts with
reason codes, depth, run time, cycles). Read-only; viewer+."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from greeniot.api.deps import SessionDep
from greeniot.api.schemas import Offset, TaskId
from greeniot.api.security import ViewerDep
from greeniot.registry.decisions import DecisionPublic, get_decision, list_decisions
from greeniot.registry.models_decisions import IrrigationDecision
from greeniot.registry.schemas import SQL_INT_MAX, Id

router = APIRouter(tags=["irrigation"])


@router.get("/irrigation/decisions", response_model=list[DecisionPublic])
def list_irrigation_decisions(
        session: SessionDep, who: ViewerDep, site: Id | None = None, zone: Id | None = None,
        outcome: Literal["water", "not_needed", "locked_out"] | None = None,
        since_ms: Annotated[int | None, Query(ge=0, le=SQL_INT_MAX)] = None,
        until_ms: Annotated[int | None, Query(ge=0, le=SQL_INT_MAX)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Offset = 0) -> Sequence[IrrigationDecision]:
    """Newest first; filter by site, zone, outcome and time [ms UTC, since ≤ t < until]."""
    return list_decisions(session, site=site, zone=zone, outcome=outcome, since_ms=since_ms,
                          until_ms=until_ms, limit=limit, offset=offset)


@router.get("/irrigation/decisions/{decision_id}", response_model=DecisionPublic)
def get_irrigation_decision(session: SessionDep, who: ViewerDep,
                            decision_id: TaskId) -> IrrigationDecision:  # a row id, as tasks
    return get_decision(session, decision_id=decision_id)
