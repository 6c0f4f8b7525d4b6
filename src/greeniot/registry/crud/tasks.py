"""Opening, finding and listing tasks; their state changes live in :mod:`..workflow`.

De-duplication: a task opened with a ``dedup_key`` (e.g. ``"lean:estate-a:t17"``) is not
duplicated while an active task (open, acknowledged, assigned, in progress) holds the same key;
:func:`ensure_task` returns that one instead. The database enforces it with a partial unique
index, so two processes opening the same task at the same moment still make one.

Related work: one active task per tree (or zone, or device) and family of work
(``vocab.WORK_FAMILIES``), whichever rule raised it. A post-storm ``inspect`` of a tree that
has an open ``stabilize`` joins that task (its history says so); a harsher kind (``remove``
after ``stabilize``) turns the task into that kind; a more urgent priority moves it up. A
second partial unique index on ``work_key`` holds this across processes too.

First responsible person: a task opened without an ``owner`` belongs to the first crew member
on its site's roster (:mod:`.roster`); the SLA job moves it along the chain when it is late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.crud.roster import first_responsible
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Task, Tree
from greeniot.registry.schemas import TaskCreate
from greeniot.registry.vocab import ACTIVE_TASK_STATES, WORK_RANK
from greeniot.registry.workflow import add_history, sla_due_ms


def find_active_task(session: Session, *, dedup_key: str) -> Task | None:
    """The active task holding ``dedup_key``, if any."""
    return session.scalars(
        select(Task).where(Task.dedup_key == dedup_key, Task.state.in_(ACTIVE_TASK_STATES))
    ).first()


def work_key(*, site: str, kind: str, tree: str | None = None, zone: str | None = None,
             device: str | None = None) -> str | None:
    """``"{family}:{site}:{tree|zone|device}:{id}"``; None for a task about no one subject."""
    family = WORK_RANK[kind][0] if kind in WORK_RANK else kind
    for what, ident in (("tree", tree), ("zone", zone), ("device", device)):
        if ident:
            return f"{family}:{site}:{what}:{ident}"
    return None


def find_related_task(session: Session, *, key: str) -> Task | None:
    """The active task doing work of the same family on the same subject, if any."""
    return session.scalars(
        select(Task).where(Task.work_key == key, Task.state.in_(ACTIVE_TASK_STATES))
    ).first()


def _find(session: Session, dedup_key: str | None, wkey: str | None) -> Task | None:
    found = find_active_task(session, dedup_key=dedup_key) if dedup_key else None
    if found is None and wkey is not None:
        found = find_related_task(session, key=wkey)
    if found is not None:
        # Lock the row (PostgreSQL: SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE already
        # serializes writers) and judge on its committed state: two processes folding a
        # harsher and a milder kind into one task at once must not lose the harsher one.
        session.refresh(found, with_for_update=True)
    return found


def _build(session: Session, fields: dict[str, Any], by: str, now_ms: int | None,
           sla_ms: Mapping[int, int] | None, owner: str | None) -> Task:
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
    note = data.reason
    owner = (owner or "").strip() or None
    if owner is None:
        person = first_responsible(session, site=data.site)
        if person is not None:
            owner = person.name
            note = f"{note}; first responsible: {owner} ({person.role})".lstrip("; ")
    task = Task(
        **data.model_dump(exclude={"heritage", "due_ms"}),
        heritage=heritage,
        due_ms=(data.due_ms if data.due_ms is not None
                else sla_due_ms(data.priority, now, sla_ms)),
        state="open", created_by=by, created_ms=now, updated_ms=now, evidence=[],
        work_key=work_key(site=data.site, kind=data.kind, tree=data.tree, zone=data.zone,
                          device=data.device),
        owner=owner, responsible=owner, escalation_level=0,
    )
    add_history(task, by=by, from_state=None, to_state="open", note=note, ts_ms=now)
    return task


def ensure_task(session: Session, *, site: str, kind: str, title: str, priority: int = 3,
                reason: str = "", tree: str | None = None, zone: str | None = None,
                device: str | None = None, heritage: bool | None = None,
                due_ms: int | None = None, dedup_key: str | None = None,
                source_event: dict[str, Any] | None = None, by: str = "system",
                owner: str | None = None, sla_ms: Mapping[int, int] | None = None,
                now_ms: int | None = None, gather: bool = False) -> tuple[Task, bool]:
    """Open a task unless an active one has the same ``dedup_key`` or does related work on the
    same subject; ``(task, created)``.

    ``heritage`` None takes the flag from the tree ledger. ``due_ms`` None applies the SLA of
    the priority (``sla_ms``: priority → ms, default :data:`..workflow.SLA_BY_PRIORITY_MS`;
    the processes pass ``Settings.tasks.sla_ms``). ``owner`` None: the first crew member of the
    site roster. With ``gather`` a new reason is appended to the active task's (one visit for
    several faults of one device), recorded in its history. Commits.
    """
    wkey = work_key(site=site, kind=kind, tree=tree, zone=zone, device=device)
    existing = _find(session, dedup_key, wkey)
    if existing is not None:
        _join(existing, kind=kind, title=title, priority=priority, reason=reason, by=by,
              now_ms=now_ms, sla_ms=sla_ms)
        if gather:
            _gather(existing, reason=reason, by=by, now_ms=now_ms)
        session.commit()
        return existing, False
    task = _build(session, {
        "site": site, "kind": kind, "title": title, "priority": priority, "reason": reason,
        "tree": tree, "zone": zone, "device": device, "heritage": heritage, "due_ms": due_ms,
        "dedup_key": dedup_key, "source_event": source_event,
    }, by, now_ms, sla_ms, owner)
    try:
        with session.begin_nested():
            session.add(task)
    except IntegrityError:
        # Another process opened the same task between our check and our insert.
        existing = _find(session, dedup_key, wkey)
        if existing is None:
            raise
        _join(existing, kind=kind, title=title, priority=priority, reason=reason, by=by,
              now_ms=now_ms, sla_ms=sla_ms)
        session.commit()
        return existing, False
    session.commit()
    return task, True


def _join(task: Task, *, kind: str, title: str, priority: int, reason: str, by: str,
          now_ms: int | None, sla_ms: Mapping[int, int] | None) -> None:
    """Fold a finding into the active task for its subject: a harsher kind of work changes
    the task's kind, a more urgent priority escalates it, a related kind is noted once."""
    now = wall_clock_ms() if now_ms is None else now_ms
    if kind != task.kind:
        new_rank = WORK_RANK.get(kind, ("", -1))[1]
        old_rank = WORK_RANK.get(task.kind, ("", -1))[1]
        if new_rank > old_rank:
            add_history(task, by=by, from_state=task.state, to_state=task.state,
                        note=f"kind {task.kind} -> {kind}: {reason}".strip(": "), ts_ms=now)
            task.kind, task.title, task.updated_ms = kind, title, now
        elif not any(h.note.startswith(f"joined by {kind}") for h in task.history):
            add_history(task, by=by, from_state=task.state, to_state=task.state,
                        note=f"joined by {kind} ({title}): {reason}".strip(": "), ts_ms=now)
            task.updated_ms = now
    if priority < task.priority:
        _escalate(task, priority=priority, reason=reason, by=by, now_ms=now, sla_ms=sla_ms)


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


def _escalate(task: Task, *, priority: int, reason: str, by: str, now_ms: int | None,
              sla_ms: Mapping[int, int] | None = None) -> None:
    """The same condition got worse: move the open task up the queue (and its SLA with it),
    keeping one task per condition; the history says when and why."""
    now = wall_clock_ms() if now_ms is None else now_ms
    old = task.priority
    task.priority = priority
    new_due = sla_due_ms(priority, now, sla_ms)
    if task.due_ms is None or new_due < task.due_ms:
        task.due_ms = new_due
    task.updated_ms = now
    add_history(task, by=by, from_state=task.state, to_state=task.state,
                note=f"priority {old} -> {priority}: {reason}".strip(": "), ts_ms=now)


def create_task(session: Session, **fields: Any) -> Task:
    """Open a task; :class:`ConflictError` if an active task already holds its ``dedup_key``."""
    task, created = ensure_task(session, **fields)
    if not created:
        raise ConflictError(f"task {task.id} ({task.state}) already holds dedup key "
                            f"{task.dedup_key!r} or related work {task.work_key!r}")
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
