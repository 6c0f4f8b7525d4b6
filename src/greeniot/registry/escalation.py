"""The SLA job's registry half: late tasks move up their site's responsibility chain.

A task whose ``due_ms`` has passed while it is still active is handed to the first person of
the next role on the chain (crew → contractor → property manager → authority, skipping roles
nobody holds), gets a fresh SLA window from now, and a history row saying so. At the top of
the chain a passed SLA re-notifies the top person once per SLA window. Every escalation is
returned as an :class:`Escalation` for the caller to notify (``actions.sla``), so the
registry stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.crud.roster import chain, next_in_chain
from greeniot.registry.models import RosterEntry, Task
from greeniot.registry.vocab import ACTIVE_TASK_STATES
from greeniot.registry.workflow import add_history, sla_due_ms


@dataclass(frozen=True, slots=True)
class Escalation:
    """One task handed up the chain (or, at the top, a reminder) because its SLA passed."""

    task_id: int
    site: str
    kind: str
    priority: int
    title: str
    tree: str | None
    zone: str | None
    level: int  # escalations so far, this one included
    overdue_ms: int  # how late the task was [ms]
    from_person: str | None
    to_person: str | None  # None: the site has no roster
    to_role: str | None
    notify_url: str | None  # the person's address; None: they get no notification
    reminder: bool  # True at the top of the chain: same person, reminded
    due_ms: int  # the new deadline


def escalate_overdue(session: Session, *, now_ms: int, sla_ms: Mapping[int, int] | None = None,
                     site: str | None = None, limit: int = 500) -> list[Escalation]:
    """Escalate every active task past its SLA at ``now_ms`` (event or wall time) [ms]. Commits.

    ``sla_ms``: priority → ms (``Settings.tasks.sla_ms``); the next holder gets that long.
    """
    query = select(Task).where(Task.state.in_(ACTIVE_TASK_STATES), Task.due_ms.is_not(None),
                               Task.due_ms < now_ms)
    if site is not None:
        query = query.where(Task.site == site)
    tasks = session.scalars(query.order_by(Task.due_ms, Task.id).limit(limit)
                            .with_for_update()).all()
    chains: dict[str, list[RosterEntry]] = {}
    out: list[Escalation] = []
    for task in tasks:
        people = chains.setdefault(task.site, chain(session, site=task.site))
        current = task.responsible or task.owner
        nxt = next_in_chain(people, current)
        holder = nxt or next((p for p in people if p.name == current), None)
        if holder is None and people:
            holder = people[-1]
        overdue = now_ms - int(task.due_ms or now_ms)
        due = sla_due_ms(task.priority, now_ms, sla_ms)
        task.escalation_level += 1
        task.escalated_ms = now_ms
        task.due_ms = due
        task.updated_ms = now_ms
        late = f"SLA passed {overdue / 3_600_000:.1f} h ago"
        if holder is None:
            note = f"{late}; the site has no roster to escalate to"
        elif nxt is None:
            note = f"{late}; top of the chain: {holder.name} ({holder.role}) reminded"
        else:
            note = f"{late}; escalated from {current or 'nobody'} to {nxt.name} ({nxt.role})"
            task.responsible = nxt.name
        add_history(task, by="sla", from_state=task.state, to_state=task.state, note=note,
                    ts_ms=now_ms)
        out.append(Escalation(
            task_id=task.id, site=task.site, kind=task.kind, priority=task.priority,
            title=task.title, tree=task.tree, zone=task.zone, level=task.escalation_level,
            overdue_ms=overdue, from_person=current,
            to_person=holder.name if holder else None, to_role=holder.role if holder else None,
            notify_url=holder.notify_url if holder else None, reminder=nxt is None,
            due_ms=due))
    session.commit()
    return out
