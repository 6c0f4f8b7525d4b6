"""Alerts (alarms): list (newest first), one with its history and deliveries, acknowledge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query

from greeniot.api.deps import SessionDep
from greeniot.api.routes.lifecycle import alert_detail
from greeniot.api.schemas import AlertAckBody, Offset
from greeniot.api.security import CrewDep, ViewerDep, require_site
from greeniot.registry import crud
from greeniot.registry.models import Alert
from greeniot.registry.schemas import AlertPublic, Id
from greeniot.registry.schemas_lifecycle import AlertDetail
from greeniot.registry.vocab import AlarmState, Severity

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertPublic])
def list_alerts(session: SessionDep, who: ViewerDep, site: Id | None = None,
                severity: Severity | None = None, acknowledged: bool | None = None,
                kind: str | None = None, state: AlarmState | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Offset = 0) -> Sequence[Alert]:
    """Only alerts of the caller's sites."""
    if site is not None:
        require_site(who, site)
    found = crud.list_alerts(session, site=site, severity=severity, acknowledged=acknowledged,
                             kind=kind, state=state, limit=limit, offset=offset)
    return [a for a in found if who.can_see(a.site)]


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(session: SessionDep, who: ViewerDep, alert_id: str) -> AlertDetail:
    """The alarm, its history (raised, escalated, acknowledged, cleared) and the delivery
    state of each notification to each recipient."""
    alert = crud.get_alert(session, alert_id=alert_id)
    require_site(who, alert.site)
    return alert_detail(session, alert)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic,
             responses={409: {"description": "the alarm was cleared before anyone "
                                             "acknowledged it"}})
def acknowledge(session: SessionDep, who: CrewDep, alert_id: str,
                body: AlertAckBody | None = None) -> Alert:
    """Idempotent: acknowledging again keeps the first acknowledgement. The acknowledger is
    the caller; an optional note goes into the alarm's history."""
    require_site(who, crud.get_alert(session, alert_id=alert_id).site)
    return crud.acknowledge_alarm(session, alert_id=alert_id, by=who.username,
                                  note=body.note if body else "")
