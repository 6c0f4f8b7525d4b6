"""Task lifecycle: the allowed transitions as data, SLA deadlines, and the steps that move a task.

::

    open → acknowledged → assigned → in_progress → closed
      └──────────┴─────────────┴───────────┴──→ cancelled

``assigned → assigned`` is a reassignment. Every task has a *first responsible person*
(``owner``), required when it is assigned and accountable until close-out, as estate rules ask
of every complaint or task; a task is closed with a note of what was done and evidence (text,
links, photo references); a cancellation needs a note too. Each step appends a row to the
task's history (who, when, from, to, note) in the same transaction.

Each step commits. ``now_ms`` defaults to the wall clock; analytics/actions pass event time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from greeniot.clock import MS_PER_HOUR
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from greeniot.registry.models import Task, TaskHistory
from greeniot.registry.schemas import Evidence

#: state → states it may move to. The single source of truth for the lifecycle.
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "open": ("acknowledged", "cancelled"),
    "acknowledged": ("assigned", "cancelled"),
    "assigned": ("assigned", "in_progress", "cancelled"),
    "in_progress": ("closed", "cancelled"),
    "closed": (),
    "cancelled": (),
}

#: Default time to close a task by priority (1 = most urgent) [ms]. A local default policy,
#: not a standard: an estate sets its own SLA by passing ``due_ms`` when it opens a task.
SLA_BY_PRIORITY_MS: Mapping[int, int] = {
    1: 4 * MS_PER_HOUR,
    2: 24 * MS_PER_HOUR,
    3: 72 * MS_PER_HOUR,
    4: 7 * 24 * MS_PER_HOUR,
    5: 30 * 24 * MS_PER_HOUR,
}


def sla_due_ms(priority: int, created_ms: int, sla_ms: Mapping[int, int] | None = None) -> int:
    """When a task of ``priority`` opened at ``created_ms`` is due [ms], by ``sla_ms``
    (priority → ms; default :data:`SLA_BY_PRIORITY_MS`, configured as
    ``GREENIOT_TASKS__SLA_HOURS``)."""
    table = SLA_BY_PRIORITY_MS if sla_ms is None else sla_ms
    try:
        return created_ms + table[priority]
    except KeyError:
        raise InvalidInputError(
            f"priority {priority!r} is not one of {sorted(table)}"
        ) from None


def check_transition(task_id: int, from_state: str, to_state: str) -> None:
    """Raise :class:`InvalidTransitionError` unless ``from_state → to_state`` is allowed."""
    allowed = TRANSITIONS.get(from_state, ())
    if to_state not in allowed:
        raise InvalidTransitionError(task_id, from_state, to_state, allowed)


def add_history(task: Task, *, by: str, from_state: str | None, to_state: str, note: str,
                ts_ms: int) -> None:
    """Append one history row to ``task`` (flushed with the task)."""
    task.history.append(TaskHistory(ts_ms=ts_ms, by=by, from_state=from_state,
                                    to_state=to_state, note=note))


def _required(value: str | None, what: str, task_id: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInputError(f"task {task_id}: {what} is required and must not be empty")
    return text


_NOW = object()  # placeholder in ``changes``: "the time of this step"


def _move(session: Session, task_id: int, to_state: str, *, by: str, note: str,
          now_ms: int | None, **changes: Any) -> Task:
    """Lock the task, check the transition, apply ``changes``, record history, commit."""
    by = _required(by, "'by' (who does this)", task_id)
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFoundError(f"task {task_id} not found")
    check_transition(task_id, task.state, to_state)
    now = wall_clock_ms() if now_ms is None else now_ms
    from_state = task.state
    for name, value in changes.items():
        setattr(task, name, now if value is _NOW else value)
    task.state = to_state
    task.updated_ms = now
    add_history(task, by=by, from_state=from_state, to_state=to_state, note=note.strip(),
                ts_ms=now)
    session.commit()
    return task



def acknowledge_task(session: Session, task_id: int, *, by: str, note: str = "",
                     now_ms: int | None = None) -> Task:
    """Someone has seen the task and takes it into planning (``open → acknowledged``)."""
    return _move(session, task_id, "acknowledged", by=by, note=note, now_ms=now_ms,
                 ack_ms=_NOW)


def assign_task(session: Session, task_id: int, *, by: str, owner: str,
                assignee: str | None = None, note: str = "",
                now_ms: int | None = None) -> Task:
    """Name the first responsible person and who does the work; also reassigns.

    ``assignee`` defaults to ``owner``.
    """
    owner = _required(owner, "the first responsible person ('owner')", task_id)
    assignee = (assignee or "").strip() or owner
    text = f"owner {owner}, assignee {assignee}" + (f": {note.strip()}" if note.strip() else "")
    return _move(session, task_id, "assigned", by=by, note=text, now_ms=now_ms,
                 owner=owner, assignee=assignee, responsible=owner, assigned_ms=_NOW)


def start_task(session: Session, task_id: int, *, by: str, note: str = "",
               now_ms: int | None = None) -> Task:
    """The crew is on it (``assigned → in_progress``)."""
    return _move(session, task_id, "in_progress", by=by, note=note, now_ms=now_ms,
                 started_ms=_NOW)


def _evidence(task_id: int, items: Iterable[Evidence | Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items):
        try:
            model = item if isinstance(item, Evidence) else Evidence.model_validate(item)
        except ValidationError as err:
            raise InvalidInputError(f"task {task_id}: evidence item {i} is invalid: "
                                    f"{err.errors()[0]['msg']}") from err
        out.append(model.model_dump(exclude_none=True))
    return out


def close_task(session: Session, task_id: int, *, by: str, note: str,
               evidence: Iterable[Evidence | Mapping[str, Any]] = (),
               now_ms: int | None = None) -> Task:
    """Close out the task with a note of what was done and its evidence (``in_progress → closed``);
    both are required.

    ``evidence`` items are :class:`Evidence` or dicts ``{"kind": "text"|"url"|"photo",
    "value": ..., "ts_ms": ...}``.
    """
    note = _required(note, "a close note (what was done)", task_id)
    items = _evidence(task_id, evidence)
    if not items:
        raise InvalidInputError(f"task {task_id}: close-out needs evidence (a photo, a link or "
                                "a text) of what was done")
    return _move(session, task_id, "closed", by=by, note=note, now_ms=now_ms,
                 close_note=note, evidence=items, closed_ms=_NOW)


def cancel_task(session: Session, task_id: int, *, by: str, note: str,
                now_ms: int | None = None) -> Task:
    """End a task that needs no work, saying why (from any active state)."""
    note = _required(note, "a note (why the task is cancelled)", task_id)
    return _move(session, task_id, "cancelled", by=by, note=note, now_ms=now_ms,
                 close_note=note, closed_ms=_NOW)
