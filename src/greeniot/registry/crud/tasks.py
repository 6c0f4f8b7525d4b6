"""Opening, finding and listing tasks; their state changes live in :mod:`..workflow`.

De-duplication: a task opened with a ``dedup_key`` (e.g. ``"lean:estate-a:t17"``) is not
duplicated while an active task (open, acknowledged, assigned, in progress) holds the same key;
:func:`open_task_once` returns that one instead. The database enforces it with a partial unique
index, so two processes opening the same task at the same moment still make one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Task, Tree
from greeniot.registry.schemas import TaskCreate
from greeniot.registry.vocab import ACTIVE_TASK_STATES
from greeniot.registry.workflow import add_history, sla_due_ms


def find_active_task(session: Session, *, dedup_key: str) -> Task | None:
    """The active task holding ``dedup_key``, if any."""
    return session.scalars(
        select(Task).where(Task.dedup_key == dedup_key, Task.state.in_(ACTIVE_TASK_STATES))
    ).first()


def _build(session: Session, fields: dict[str, Any], by: str, now_ms: int | None) -> Task:
    try:
        data = TaskCreate.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "task"
        raise InvalidInputError(f"cannot open task: {where}: {first['msg']}") from err
    now = wall_clock_ms() if now_ms is None else now_ms
    heritage = bool(data.heritage)
    if data.tree is not None:
        tree = session.get(Tree, (data.site, data.tree))
        heritage = heritage or bool(tree is not None and tree.heritage)
    task = Task(
        **data.model_dump(exclude={"heritage", "due_ms"}),
        heritage=heritage,
        due_ms=data.due_ms if data.due_ms is not None else sla_due_ms(data.priority, now),
        state="open", created_by=by, created_ms=now, updated_ms=now, evidence=[],
    )
    add_history(task, by=by, from_state=None, to_state="open", note=data.reason, ts_ms=now)
    return task


def ensure_task(session: Session, *, site: str, kind: str, title: str, priority: int = 3,
                reason: str = "", tree: str | None = None, zone: str | None = None,
                device: str | None = None, heritage: bool | None = None,
                due_ms: int | None = None, dedup_key: str | None = None,
                source_event: dict[str, Any] | None = None, by: str = "system",
                now_ms: int | None = None, gather: bool = False) -> tuple[Task, bool]:
    """Open a task unless an active one has the same ``dedup_key``; ``(task, created)``.

    ``heritage`` None takes the flag from the tree ledger. ``due_ms`` None applies the default
    SLA of the priority (:data:`..workflow.SLA_BY_PRIORITY_MS`). With ``gather`` a new reason
    is appended to the active task's (one visit for several faults of one device), recorded in
    its history. Commits.
    """
    if dedup_key is not None:
        existing = find_active_task(session, dedup_key=dedup_key)
        if existing is not None:
            if priority < existing.priority:
                _escalate(existing, priority=priority, reason=reason, by=by, now_ms=now_ms)
                session.commit()
            if gather:
                _gather(existing, reason=reason, by=by, now_ms=now_ms)
                session.commit()
            return existing, False
    task = _build(session, {
        "site": site, "kind": kind, "title": title, "priority": priority, "reason": reason,
        "tree": tree, "zone": zone, "device": device, "heritage": heritage, "due_ms": due_ms,
        "dedup_key": dedup_key, "source_event": source_event,
    }, by, now_ms)
    try:
        with session.begin_nested():
            session.add(task)
    except IntegrityError:
        # Another process opened the same task between our check and our insert.
        existing = find_active_task(session, dedup_key=dedup_key) if dedup_key else None
        if existing is None:
            raise
        session.commit()
        return existing, False
    session.commit()
    return task, True


def _gather(task: Task, *, reason: str, by: str, now_ms: int | None) -> None:
    """Append the reasons not yet on the task."""
    have = task.reason.split("; ") if task.reason else []
    new = [r for r in reason.split("; ") if r and r not in have]
    if not new:
        return
    now = wall_clock_ms() if now_ms is None else now_ms
    task.reason = "; ".join(have + new)
    task.updated_ms = now
    add_history(task, by=by, from_state=task.state, to_state=task.state,
                note=f"also: {'; '.join(new)}", ts_ms=now)


def _escalate(task: Task, *, priority: int, reason: str, by: str, now_ms: int | None) -> None:
    """The same condition got worse: move the open task up the queue (and its SLA with it),
    keeping one task per condition; the history says when and why."""
    now = wall_clock_ms() if now_ms is None else now_ms
    old = task.priority
    task.priority = priority
    new_due = sla_due_ms(priority, now)
    if task.due_ms is None or new_due < task.due_ms:
        task.due_ms = new_due
    task.updated_ms = now
    add_history(task, by=by, from_state=task.state, to_state=task.state,
                note=f"priority {old} -> {priority}: {reason}".strip(": "), ts_ms=now)


def open_task_once(session: Session, **fields: Any) -> Task:
    """:func:`ensure_task` returning only the task (the existing one for a known key)."""
    return ensure_task(session, **fields)[0]


def create_task(session: Session, **fields: Any) -> Task:
    """Open a task; :class:`ConflictError` if an active task already holds its ``dedup_key``."""
    task, created = ensure_task(session, **fields)
    if not created:
        raise ConflictError(f"task {task.id} ({task.state}) already holds dedup key "
                            f"{task.dedup_key!r}")
    return task


def get_task(session: Session, *, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"task {task_id} not found")
    return task


def list_tasks(session: Session, *, site: str | None = None,
               state: str | Sequence[str] | None = None, kind: str | None = None,
               priority: int | None = None, owner: str | None = None,
               active: bool | None = None, overdue_at_ms: int | None = None,
               limit: int = 100, offset: int = 0) -> Sequence[Task]:
    """Tasks in the order crews take them: priority, then heritage trees, then oldest first.

    ``overdue_at_ms``: only active tasks whose ``due_ms`` is before that time.
    """
    query = select(Task)
    if site is not None:
        query = query.where(Task.site == site)
    if state is not None:
        query = query.where(Task.state.in_([state] if isinstance(state, str) else state))
    if kind is not None:
        query = query.where(Task.kind == kind)
    if priority is not None:
        query = query.where(Task.priority == priority)
    if owner is not None:
        query = query.where(Task.owner == owner)
    if active is not None:
        in_active = Task.state.in_(ACTIVE_TASK_STATES)
        query = query.where(in_active if active else ~in_active)
    if overdue_at_ms is not None:
        query = query.where(Task.state.in_(ACTIVE_TASK_STATES), Task.due_ms < overdue_at_ms)
    query = query.order_by(Task.priority, Task.heritage.desc(), Task.created_ms, Task.id)
    return session.scalars(query.limit(limit).offset(offset)).all()
