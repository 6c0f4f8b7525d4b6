"""Alerts: raise with de-duplication, list, acknowledge.

In a storm the same finding arrives again and again; an alert raised with a ``dedup_key`` while
an unacknowledged alert holds that key only bumps the existing one's ``count`` and
``last_ts_ms`` (keeping the highest severity and the latest message and value), so operators
see one alarm per problem, not one per message. Once acknowledged, the next occurrence is a new
alert. A partial unique index makes this hold across processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import InvalidInputError, NotFoundError
from greeniot.registry.models import Alert
from greeniot.registry.vocab import SEVERITIES, SEVERITY_RANK


def new_alert_id() -> str:
    """A fresh alert id (valid as a protocol id)."""
    return f"a-{uuid.uuid4().hex[:16]}"


def find_open_alert(session: Session, *, dedup_key: str) -> Alert | None:
    """The unacknowledged alert holding ``dedup_key``, if any."""
    return session.scalars(
        select(Alert).where(Alert.dedup_key == dedup_key, Alert.acknowledged.is_(False))
    ).first()


def _repeat(alert: Alert, *, severity: str, message: str, ts_ms: int, value: float | None,
            task_id: int | None) -> None:
    alert.count += 1
    if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
        alert.severity = severity
    if ts_ms >= alert.last_ts_ms:  # a late, buffered repeat does not overwrite a newer one
        alert.last_ts_ms = ts_ms
        alert.message = message
        alert.value = value
    if alert.task_id is None:
        alert.task_id = task_id


def ensure_alert(session: Session, *, site: str, kind: str, severity: str, message: str,
                 ts_ms: int, value: float | None = None, device: str | None = None,
                 tree: str | None = None, zone: str | None = None, task_id: int | None = None,
                 dedup_key: str | None = None, alert_id: str | None = None,
                 now_ms: int | None = None) -> tuple[Alert, bool]:
    """Raise an alert, or fold it into the open one with the same key; ``(alert, created)``.

    ``ts_ms`` is the event time of the finding; ``now_ms`` (default: wall clock) is when it
    was recorded. Commits.
    """
    if severity not in SEVERITY_RANK:
        raise InvalidInputError(f"alert severity {severity!r} is not one of {SEVERITIES}")
    if dedup_key is not None:
        existing = find_open_alert(session, dedup_key=dedup_key)
        if existing is not None:
            _repeat(existing, severity=severity, message=message, ts_ms=ts_ms, value=value,
                    task_id=task_id)
            session.commit()
            return existing, False
    alert = Alert(
        id=alert_id or new_alert_id(), site=site, ts_ms=ts_ms, last_ts_ms=ts_ms, count=1,
        kind=kind, severity=severity, message=message, value=value, device=device, tree=tree,
        zone=zone, task_id=task_id, acknowledged=False, dedup_key=dedup_key,
        created_ms=wall_clock_ms() if now_ms is None else now_ms,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        existing = find_open_alert(session, dedup_key=dedup_key) if dedup_key else None
        if existing is None:
            raise
        _repeat(existing, severity=severity, message=message, ts_ms=ts_ms, value=value,
                task_id=task_id)
        session.commit()
        return existing, False
    session.commit()
    return alert, True


def raise_alert(session: Session, **fields: Any) -> Alert:
    """:func:`ensure_alert` returning only the alert."""
    return ensure_alert(session, **fields)[0]


def get_alert(session: Session, *, alert_id: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"alert '{alert_id}' not found")
    return alert


def list_alerts(session: Session, *, site: str | None = None, severity: str | None = None,
                acknowledged: bool | None = None, kind: str | None = None,
                limit: int = 100, offset: int = 0) -> Sequence[Alert]:
    """Newest first (by the event time of the latest occurrence)."""
    query = select(Alert)
    if site is not None:
        query = query.where(Alert.site == site)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if acknowledged is not None:
        query = query.where(Alert.acknowledged.is_(acknowledged))
    if kind is not None:
        query = query.where(Alert.kind == kind)
    query = query.order_by(Alert.last_ts_ms.desc(), Alert.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def acknowledge_alert(session: Session, *, alert_id: str, by: str,
                      now_ms: int | None = None) -> Alert:
    """Mark the alert seen by ``by``; acknowledging twice keeps the first acknowledgement."""
    if not by.strip():
        raise InvalidInputError(f"alert '{alert_id}': 'by' (who acknowledges) is required")
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFoundError(f"alert '{alert_id}' not found")
    if not alert.acknowledged:
        alert.acknowledged = True
        alert.ack_by = by.strip()
        alert.ack_ms = wall_clock_ms() if now_ms is None else now_ms
    session.commit()
    return alert
