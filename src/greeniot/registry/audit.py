"""The audit log: every row the API inserts, changes or deletes, with who, when, before/after.

:func:`install` hooks a session factory's ``before_flush``: whatever a request changes through
its session is recorded in the same transaction, so no route can forget it and no change can
land without its entry. The acting user and the request are put into ``session.info`` by the
credential check (api/security.py); :func:`record` adds an entry for what happens outside the
session (a valve command recorded by the commander's own connection, a login).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.models_access import AuditEntry

log = logging.getLogger(__name__)

ACTOR, ACTION = "audit_actor", "audit_action"
#: Never copied into the log.
REDACTED = frozenset({"password_hash", "token_hash"})
#: Rows that are themselves a log of the change (a task's history row is logged through the
#: task's own update).
SKIPPED = frozenset({"audit_log", "task_history"})


def set_actor(session: Session, *, actor: str, action: str) -> None:
    session.info[ACTOR] = actor
    session.info[ACTION] = action


def _snapshot(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    out = {}
    for attr in state.mapper.column_attrs:
        if attr.key not in REDACTED:
            out[attr.key] = getattr(obj, attr.key)
    return out


def _before(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    out = {}
    for attr in state.mapper.column_attrs:
        if attr.key in REDACTED:
            continue
        hist = state.attrs[attr.key].history
        out[attr.key] = hist.deleted[0] if hist.deleted else getattr(obj, attr.key)
    return out


def _key(obj: Any) -> str:
    identity = inspect(obj).identity
    if identity is None:  # a new row: its key may be assigned only by the insert
        return ""
    return "/".join(str(v) for v in identity)


def _entry(session: Session, op: str, obj: Any, before: dict[str, Any] | None,
           after: dict[str, Any] | None, now: int) -> AuditEntry:
    return AuditEntry(ts_ms=now, actor=session.info.get(ACTOR, "anonymous"),
                      action=session.info.get(ACTION, ""), op=op,
                      entity=obj.__table__.name, key=_key(obj), before=before, after=after)


def _on_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    now = wall_clock_ms()
    pending: list[tuple[Any, AuditEntry]] = []
    for obj in list(session.new):
        if getattr(obj, "__tablename__", None) in SKIPPED:
            continue
        entry = _entry(session, "insert", obj, None, None, now)
        pending.append((obj, entry))
    for obj in list(session.dirty):
        if (getattr(obj, "__tablename__", None) in SKIPPED
                or not session.is_modified(obj, include_collections=False)):
            continue
        before, after = _before(obj), _snapshot(obj)
        changed = {k for k in after if before.get(k) != after[k]}
        if changed:
            session.add(_entry(session, "update", obj,
                               {k: before[k] for k in sorted(changed)},
                               {k: after[k] for k in sorted(changed)}, now))
    for obj in list(session.deleted):
        if getattr(obj, "__tablename__", None) not in SKIPPED:
            session.add(_entry(session, "delete", obj, _snapshot(obj), None, now))
    if pending:
        session.info.setdefault("audit_pending", []).extend(pending)


def _after_flush(session: Session, _ctx: Any) -> None:
    # Inserted rows have their keys (autoincrement ids, defaults) only after the flush.
    pending = session.info.pop("audit_pending", [])
    for obj, entry in pending:
        entry.key = _key(obj)
        entry.after = _snapshot(obj)
        session.add(entry)


def install(factory: sessionmaker[Session]) -> None:
    """Audit every flush of sessions made by ``factory``."""
    event.listen(factory, "before_flush", _on_flush)
    event.listen(factory, "after_flush_postexec", _after_flush)


def record(session: Session, *, op: str, entity: str, key: str,
           after: dict[str, Any] | None = None, before: dict[str, Any] | None = None) -> None:
    """An entry for a change made outside ``session`` (committed by the caller)."""
    session.add(AuditEntry(ts_ms=wall_clock_ms(), actor=session.info.get(ACTOR, "anonymous"),
                           action=session.info.get(ACTION, ""), op=op, entity=entity, key=key,
                           before=before, after=after))


def list_entries(session: Session, *, actor: str | None = None, entity: str | None = None,
                 key: str | None = None, limit: int = 100, offset: int = 0
                 ) -> Sequence[AuditEntry]:
    """Newest first."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc())
    if actor is not None:
        q = q.where(AuditEntry.actor == actor)
    if entity is not None:
        q = q.where(AuditEntry.entity == entity)
    if key is not None:
        q = q.where(AuditEntry.key == key)
    return session.scalars(q.limit(limit).offset(offset)).all()
