"""Alerts (alarms): list (newest first), one with its history and deliveries, acknowledge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query

from greeniot.api.deps import SessionDep
from greeniot.api.routes.lifecycle import alert_detail
from greeniot.registry import crud
from greeniot.registry.models import Alert
from greeniot.registry.schemas import AlertAck, AlertPublic, Id
from greeniot.registry.schemas_lifecycle import AlertDetail
from greeniot.registry.vocab import AlarmState, Severity

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertPublic])
def list_alerts(session: SessionDep, site: Id | None = None, severity: Severity | None = None,
                acknowledged: bool | None = None, kind: str | None = None,
                state: AlarmState | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> Sequence[Alert]:
    return crud.list_alerts(session, site=site, severity=severity, acknowledged=acknowledged,
                            kind=kind, state=state, limit=limit, offset=offset)


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(session: SessionDep, alert_id: str) -> AlertDetail:
    """The alarm, its history (raised, escalated, acknowledged, cleared) and the delivery
    state of each notification to each recipient."""
    return alert_detail(session, crud.get_alert(session, alert_id=alert_id))


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic,
             responses={409: {"description": "the alarm was cleared before anyone "
                                             "acknowledged it"}})
def acknowledge(session: SessionDep, alert_id: str, body: AlertAck) -> Alert:
    """Idempotent: acknowledging again keeps the first acknowledgement."""
    return crud.acknowledge_alarm(session, alert_id=alert_id, by=body.by, note=body.note)
