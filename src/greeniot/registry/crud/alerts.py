"""Alarms: raise with de-duplication and escalation, acknowledge, clear; list.

An alert is an alarm with a lifecycle::

    active → acknowledged → cleared      (active → cleared too)

One live (not cleared) alarm per subject and type: an alert raised with a ``dedup_key`` that a
live alarm holds only bumps that alarm's ``count`` and ``last_ts_ms`` (keeping the latest
message and value), so operators see one alarm per problem, not one per message. A worse
repeat escalates it: severity up, a history row (an acknowledged alarm stays acknowledged; its
escalation is notified again). An alarm is cleared automatically when its condition ends
(:func:`clear_condition`, called with the dedup key and the event time) or by hand with a note
(:func:`clear_alarm`); the next occurrence after a clear opens a new alarm. A partial unique
index makes "one live alarm per key" hold across processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Alert, AlertHistory
from greeniot.registry.vocab import LIVE_ALARM_STATES, SEVERITIES, SEVERITY_RANK


def new_alert_id() -> str:
    """A fresh alert id (valid as a protocol id)."""
    return f"a-{uuid.uuid4().hex[:16]}"


def find_open_alert(session: Session, *, dedup_key: str) -> Alert | None:
    """The live (active or acknowledged, not cleared) alarm holding ``dedup_key``, if any."""
    return session.scalars(
        select(Alert).where(Alert.dedup_key == dedup_key, Alert.state.in_(LIVE_ALARM_STATES))
    ).first()


def _history(alert: Alert, *, by: str, from_state: str | None, to_state: str, note: str,
             ts_ms: int) -> None:
    alert.history.append(AlertHistory(ts_ms=ts_ms, by=by, from_state=from_state,
                                      to_state=to_state, severity=alert.severity, note=note))


def _repeat(alert: Alert, *, severity: str, message: str, ts_ms: int, value: float | None,
            task_id: int | None) -> None:
    alert.count += 1
    if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
        old = alert.severity
        alert.severity = severity
        _history(alert, by="system", from_state=alert.state, to_state=alert.state,
                 note=f"escalated {old} -> {severity} (occurrence {alert.count}): {message}",
                 ts_ms=ts_ms)
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
        created_ms=wall_clock_ms() if now_ms is None else now_ms, state="active",
    )
    _history(alert, by="system", from_state=None, to_state="active", note=message, ts_ms=ts_ms)
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


def get_alert(session: Session, *, alert_id: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"alert '{alert_id}' not found")
    return alert


def list_alerts(session: Session, *, site: str | None = None, severity: str | None = None,
                acknowledged: bool | None = None, kind: str | None = None,
                state: str | None = None, limit: int = 100, offset: int = 0) -> Sequence[Alert]:
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
    if state is not None:
        query = query.where(Alert.state == state)
    query = query.order_by(Alert.last_ts_ms.desc(), Alert.id).limit(limit).offset(offset)
    return session.scalars(query).all()


#: What :func:`raise_alarm` did: a new alarm, a worse repeat, or a plain repeat.
AlarmPhase = Literal["raised", "escalated", "repeat"]


@dataclass(frozen=True, slots=True)
class AlarmChange:
    alert: Alert
    phase: AlarmPhase

    @property
    def notify(self) -> bool:
        """True when crews should hear of it (new or worse); a plain repeat only counts."""
        return self.phase != "repeat"


def raise_alarm(session: Session, **fields: Any) -> AlarmChange:
    """:func:`ensure_alert`, saying whether the alarm is new, escalated or a plain repeat."""
    key = fields.get("dedup_key")
    before = find_open_alert(session, dedup_key=key) if key else None
    rank = SEVERITY_RANK[before.severity] if before is not None else -1
    alert, created = ensure_alert(session, **fields)
    if created:
        return AlarmChange(alert, "raised")
    return AlarmChange(alert, "escalated" if SEVERITY_RANK[alert.severity] > rank else "repeat")


def acknowledge_alarm(session: Session, *, alert_id: str, by: str, note: str = "",
                      now_ms: int | None = None) -> Alert:
    """``active → acknowledged`` by ``by``; acknowledging again keeps the first
    acknowledgement; a cleared alarm cannot be acknowledged (409)."""
    if not by.strip():
        raise InvalidInputError(f"alert '{alert_id}': 'by' (who acknowledges) is required")
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFoundError(f"alert '{alert_id}' not found")
    if alert.state == "cleared" and not alert.acknowledged:
        raise ConflictError(f"alert '{alert_id}' is cleared: nothing left to acknowledge")
    if not alert.acknowledged:
        now = wall_clock_ms() if now_ms is None else now_ms
        alert.acknowledged = True
        alert.ack_by = by.strip()
        alert.ack_ms = now
        _history(alert, by=alert.ack_by, from_state=alert.state, to_state="acknowledged",
                 note=note.strip(), ts_ms=now)
        alert.state = "acknowledged"
    session.commit()
    return alert


def acknowledge_alert(session: Session, *, alert_id: str, by: str,
                      now_ms: int | None = None) -> Alert:
    """:func:`acknowledge_alarm` without a note."""
    return acknowledge_alarm(session, alert_id=alert_id, by=by, now_ms=now_ms)


def clear_alarm(session: Session, *, key: str | None = None, alert_id: str | None = None,
                at_ms: int | None = None, note: str, by: str) -> Alert | None:
    """Clear the live alarm holding dedup ``key`` (or the alarm ``alert_id``), with a note of
    why; the next occurrence opens a new alarm. Commits.

    By ``key``: None when no live alarm holds it (a clear of nothing is no fault). By id: an
    unknown id is :class:`NotFoundError`; clearing a cleared alarm returns it unchanged.
    """
    note, by = note.strip(), by.strip()
    if not note:
        raise InvalidInputError("clearing an alarm needs a note (why it is over)")
    if not by:
        raise InvalidInputError("clearing an alarm needs 'by' (who or what clears it)")
    if (key is None) == (alert_id is None):
        raise InvalidInputError("clear_alarm: give either key or alert_id")
    if alert_id is not None:
        alert = session.get(Alert, alert_id, with_for_update=True)
        if alert is None:
            raise NotFoundError(f"alert '{alert_id}' not found")
    else:
        alert = find_open_alert(session, dedup_key=str(key))
        if alert is None:
            return None
    if alert.state == "cleared":
        return alert
    now = wall_clock_ms() if at_ms is None else at_ms
    _history(alert, by=by, from_state=alert.state, to_state="cleared", note=note, ts_ms=now)
    alert.state = "cleared"
    alert.cleared_ms, alert.cleared_by, alert.clear_note = now, by, note
    session.commit()
    return alert


def clear_condition(session: Session, *, key: str, ts_ms: int,
                    note: str = "condition ended") -> Alert | None:
    """The automatic clear: the condition behind dedup ``key`` ended at event time ``ts_ms``.

    Ignored (None) when no live alarm holds the key, or when the alarm saw an occurrence
    after ``ts_ms`` (a late clear must not end a condition that came back).
    """
    alert = find_open_alert(session, dedup_key=key)
    if alert is None or alert.last_ts_ms > ts_ms:
        return None
    return clear_alarm(session, key=key, at_ms=ts_ms, note=note, by="system")



def clear_subject(session: Session, *, site: str, ts_ms: int, tree: str | None = None,
                  zone: str | None = None, device: str | None = None,
                  kinds: Sequence[str] | None = None,
                  note: str = "condition ended") -> list[Alert]:
    """The automatic clear by subject: every live alarm of ``site`` about ``tree`` (or
    ``zone``, or ``device``) whose alert kind is in ``kinds`` (None: any), because the
    condition ended at event time ``ts_ms``. Alarms that repeated after ``ts_ms`` stay.

    For analytics' typed events: an event ``(kind, subject, phase=clear)`` clears the alarms its
    start raised, whatever task key the rules gave them (``inspect:…``/``stabilize:…``).
    """
    if (tree, zone, device) == (None, None, None):
        raise InvalidInputError("clear_subject: name the tree, zone or device")
    query = select(Alert).where(Alert.site == site, Alert.state.in_(LIVE_ALARM_STATES),
                                Alert.last_ts_ms <= ts_ms)
    for column, value in ((Alert.tree, tree), (Alert.zone, zone), (Alert.device, device)):
        if value is not None:
            query = query.where(column == value)
    if kinds is not None:
        query = query.where(Alert.kind.in_(list(kinds)))
    rows = list(session.scalars(query.order_by(Alert.id)).all())
    for alert in rows:
        _history(alert, by="system", from_state=alert.state, to_state="cleared", note=note,
                 ts_ms=ts_ms)
        alert.state = "cleared"
        alert.cleared_ms, alert.cleared_by, alert.clear_note = ts_ms, "system", note
    session.commit()
    return rows
