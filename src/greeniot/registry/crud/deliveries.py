"""Delivery records: one per notification and recipient, and what became of it.

The dispatcher (``greeniot.actions.sinks.dispatcher``) plans a delivery row per recipient
before it queues anything, records every attempt (``failed`` with the error and a retry, or
``delivered``), marks rows ``held`` while a recipient's rate limit folds them into a digest,
and on start-up picks up whatever a previous run left unfinished. ``(ref, recipient)`` is
unique, so a notification submitted twice is delivered once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.models import Delivery

#: Delivery states in which a row still waits to go out.
UNFINISHED_STATES: tuple[str, ...] = ("queued", "held", "failed")


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who gets a notification and how: ``key`` is the unit of the rate limit."""

    key: str  # "route:{name}" or "person:{site}:{name}"
    kind: str  # vocab.SINK_KINDS
    target: str
    secret: str | None = None
    rate_max: int | None = None
    rate_window_s: float | None = None


def plan_deliveries(session: Session, *, ref: str, phase: str, recipients: Iterable[Recipient],
                    message: dict[str, Any], alert_id: str | None = None,
                    task_id: int | None = None, now_ms: int | None = None,
                    commit: bool = True) -> list[Delivery]:
    """Insert a ``queued`` row per recipient not yet planned for ``ref``; the new rows.

    Commits unless ``commit`` is False (the caller plans several and commits once; the rows'
    ids are flushed either way)."""
    now = wall_clock_ms() if now_ms is None else now_ms
    wanted = {r.key: r for r in recipients}
    if not wanted:
        return []
    have = set(session.scalars(select(Delivery.recipient).where(
        Delivery.ref == ref, Delivery.recipient.in_(list(wanted)))).all())
    rows = [Delivery(ref=ref, alert_id=alert_id, task_id=task_id, phase=phase, recipient=r.key,
                     kind=r.kind, target=r.target, secret=r.secret, message=message,
                     state="queued", attempts=0, log=[], in_digest=False, created_ms=now,
                     updated_ms=now)
            for key, r in wanted.items() if key not in have]
    session.add_all(rows)
    if commit:
        session.commit()
    else:
        session.flush()
    return rows


def record_attempt(session: Session, *, delivery_ids: Sequence[int], ok: bool,
                   error: str | None = None, final: bool = False, digest: bool = False,
                   now_ms: int | None = None, commit: bool = True) -> None:
    """One attempt at sending ``delivery_ids`` (one message, or one digest of several).
    Commits unless ``commit`` is False.

    ``ok``: ``delivered``; else ``failed`` (to be retried) or, with ``final``, ``gave_up``.
    """
    now = wall_clock_ms() if now_ms is None else now_ms
    for row in session.scalars(select(Delivery).where(Delivery.id.in_(list(delivery_ids)))):
        row.attempts += 1
        entry: dict[str, Any] = {"ts_ms": now, "ok": ok}
        if error:
            entry["error"] = error
        if digest:
            entry["digest"] = len(delivery_ids)
        row.log = [*row.log, entry]
        row.updated_ms = now
        row.in_digest = row.in_digest or digest
        if ok:
            row.state, row.delivered_ms, row.last_error = "delivered", now, None
        else:
            row.state, row.last_error = ("gave_up" if final else "failed"), error
    if commit:
        session.commit()


def mark_held(session: Session, *, delivery_ids: Sequence[int],
              now_ms: int | None = None, commit: bool = True) -> None:
    """Over the rate limit: waiting for the recipient's next digest. Commits unless
    ``commit`` is False."""
    now = wall_clock_ms() if now_ms is None else now_ms
    for row in session.scalars(select(Delivery).where(Delivery.id.in_(list(delivery_ids)))):
        if row.state in ("queued", "failed"):
            row.state, row.updated_ms = "held", now
            row.log = [*row.log, {"ts_ms": now, "held": True}]
    if commit:
        session.commit()


def list_deliveries(session: Session, *, alert_id: str | None = None,
                    task_id: int | None = None, state: str | None = None,
                    recipient: str | None = None, limit: int = 500) -> Sequence[Delivery]:
    """Oldest first."""
    query = select(Delivery)
    if alert_id is not None:
        query = query.where(Delivery.alert_id == alert_id)
    if task_id is not None:
        query = query.where(Delivery.task_id == task_id)
    if state is not None:
        query = query.where(Delivery.state == state)
    if recipient is not None:
        query = query.where(Delivery.recipient == recipient)
    return session.scalars(query.order_by(Delivery.id).limit(limit)).all()


def unfinished_deliveries(session: Session, *, limit: int = 10_000) -> Sequence[Delivery]:
    """What a previous run left queued, held or failed, oldest first (to resume)."""
    return session.scalars(select(Delivery).where(Delivery.state.in_(UNFINISHED_STATES))
                           .order_by(Delivery.id).limit(limit)).all()
