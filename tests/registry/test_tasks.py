"""Opening tasks: de-duplication, heritage from the ledger, SLA, ordering and filters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.registry import crud, workflow
from greeniot.registry.errors import ConflictError, InvalidInputError
from tests.registry.conftest import T0

KEY = "lean:estate-a:t2"


def _open(session: Session, **kw: Any) -> Any:
    fields: dict[str, Any] = {"site": "estate-a", "kind": "inspect", "title": "inspect t2",
                              "tree": "t2", "now_ms": T0}
    return crud.ensure_task(session, **(fields | kw))


def test_ensure_task_returns_the_active_task_with_the_same_key(estate: Session) -> None:
    first, created = _open(estate, dedup_key=KEY, source_event={"kind": "lean", "value": 0.6})
    assert created
    for i in range(3):
        again = crud.ensure_task(estate, site="estate-a", kind="inspect", title="x",
                                    dedup_key=KEY, now_ms=T0 + i + 1)[0]
        assert again.id == first.id
    assert again.title == "inspect t2" and again.source_event == {"kind": "lean", "value": 0.6}
    assert len(crud.list_tasks(estate)) == 1
    with pytest.raises(ConflictError, match=f"task {first.id} \\(open\\) already holds"):
        crud.create_task(estate, site="estate-a", kind="inspect", title="y", dedup_key=KEY)


def test_dedup_holds_through_work_and_ends_at_close_out(estate: Session) -> None:
    first, _ = _open(estate, dedup_key=KEY)
    workflow.acknowledge_task(estate, first.id, by="ops")
    workflow.assign_task(estate, first.id, by="ops", owner="Chan")
    workflow.start_task(estate, first.id, by="crew")
    assert _open(estate, dedup_key=KEY) == (first, False)
    workflow.close_task(estate, first.id, by="crew", note="inspected, sound",
                        evidence=[{"kind": "text", "value": "no cracks"}])
    second, created = _open(estate, dedup_key=KEY, now_ms=T0 + 99)
    assert created and second.id != first.id and second.state == "open"
    # a cancelled task frees the key as well
    workflow.cancel_task(estate, second.id, by="ops", note="dup")
    assert _open(estate, dedup_key=KEY)[1] is True


def test_tasks_without_key_or_subject_are_never_merged(estate: Session) -> None:
    assert _open(estate, tree=None)[0].id != _open(estate, tree=None)[0].id


def test_heritage_comes_from_the_ledger_or_the_caller(estate: Session) -> None:
    assert _open(estate, tree="t1")[0].heritage is True  # t1 is heritage in the ledger
    assert _open(estate, tree="t2")[0].heritage is False
    assert _open(estate, tree="t3", heritage=True)[0].heritage is True
    assert _open(estate, tree="unknown-tree")[0].heritage is False  # not in ledger: still opens


@pytest.mark.parametrize(("priority", "hours"), [(1, 4), (2, 24), (3, 72), (4, 168), (5, 720)])
def test_default_due_time_follows_the_priority(estate: Session, priority: int,
                                               hours: int) -> None:
    task, _ = _open(estate, priority=priority)
    assert task.due_ms == T0 + hours * 3_600_000


def test_explicit_due_time_wins(estate: Session) -> None:
    assert _open(estate, due_ms=T0 + 5)[0].due_ms == T0 + 5


@pytest.mark.parametrize(("field", "value", "message"), [
    ("kind", "paint", "kind"),
    ("priority", 0, "priority"),
    ("priority", 6, "priority"),
    ("title", " ", "title"),
    ("site", "Bad Site", "site"),
])
def test_bad_task_fields_are_refused_by_name(estate: Session, field: str, value: Any,
                                             message: str) -> None:
    with pytest.raises(InvalidInputError, match=f"cannot open task: {message}"):
        _open(estate, **{field: value})
    assert crud.list_tasks(estate) == []


def test_list_orders_by_priority_then_heritage_then_age(estate: Session) -> None:
    late_p2 = _open(estate, priority=2, tree="t2", now_ms=T0 + 1)[0]
    heritage_p2 = _open(estate, priority=2, tree="t1", now_ms=T0 + 2)[0]
    # one active task per tree and kind of work: each task here is about a tree of its own
    p3 = _open(estate, priority=3, tree="t5", now_ms=T0 - 100)[0]
    early_p2 = _open(estate, priority=2, tree="t6", now_ms=T0)[0]
    p1 = _open(estate, priority=1, tree="t7", now_ms=T0 + 3)[0]
    order = [t.id for t in crud.list_tasks(estate)]
    assert order == [p1.id, heritage_p2.id, early_p2.id, late_p2.id, p3.id]


def test_list_filters(estate: Session) -> None:
    a = _open(estate, kind="drain", zone="z1", tree=None, priority=3)[0]
    b = _open(estate, kind="inspect", priority=2, now_ms=T0)[0]
    c = _open(estate, site="estate-b", kind="inspect", priority=2, tree=None)[0]
    workflow.acknowledge_task(estate, b.id, by="ops")
    workflow.cancel_task(estate, c.id, by="ops", note="n/a")

    def ids(**kw: Any) -> list[int]:
        return [t.id for t in crud.list_tasks(estate, **kw)]

    assert ids(site="estate-a") == [b.id, a.id]
    assert ids(state="acknowledged") == [b.id]
    assert ids(state=["open", "cancelled"]) == [c.id, a.id]
    assert ids(kind="drain") == [a.id]
    assert ids(priority=2) == [b.id, c.id]
    assert ids(active=False) == [c.id]
    assert ids(active=True) == [b.id, a.id]
    # b is due at T0+24h, a at T0+72h; c is cancelled so never overdue
    assert ids(overdue_at_ms=T0 + 25 * 3_600_000) == [b.id]
    assert ids(limit=1, offset=1) == [c.id]


def test_a_worse_repeat_escalates_the_open_task_and_never_lowers_it(estate: Session) -> None:
    task, _ = _open(estate, dedup_key=KEY, priority=2)
    due_p2 = task.due_ms
    again, created = _open(estate, dedup_key=KEY, priority=1, reason="lean step now critical",
                           now_ms=T0 + 60_000)
    assert not created and again.id == task.id
    assert again.priority == 1
    assert again.due_ms == workflow.sla_due_ms(1, T0 + 60_000) < due_p2
    assert "priority 2 -> 1: lean step now critical" in again.history[-1].note
    calmer, _ = _open(estate, dedup_key=KEY, priority=3, now_ms=T0 + 120_000)
    assert calmer.priority == 1 and len(calmer.history) == len(again.history)
    assert len(crud.list_tasks(estate)) == 1
