"""Task lifecycle: related work is one task, the roster names the first responsible person,
a passed SLA moves the task along the site's chain, close-out needs a note and evidence."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.registry import crud, workflow
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.escalation import escalate_overdue
from tests.registry.conftest import T0

H = 3_600_000


def _open(session: Session, kind: str, **kw: Any) -> Any:
    fields: dict[str, Any] = {"site": "estate-a", "kind": kind, "title": f"{kind} t1",
                              "tree": "t1", "dedup_key": f"{kind}:estate-a:t1", "now_ms": T0}
    return crud.ensure_task(session, **(fields | kw))


def test_post_storm_inspect_joins_the_open_stabilize_task(estate: Session) -> None:
    stabilize, created = _open(estate, "stabilize", priority=1, reason="lean 1.6 deg")
    assert created and stabilize.work_key == "tree_risk:estate-a:tree:t1"
    for i in range(3):  # the sweep may run again: noted once
        sweep, created = _open(estate, "inspect", priority=2, title="inspect t1 (post-storm)",
                               reason="post-storm sweep", now_ms=T0 + 10 + i)
        assert not created and sweep.id == stabilize.id
    task = crud.get_task(estate, task_id=stabilize.id)
    assert (task.kind, task.priority, task.title) == ("stabilize", 1, "stabilize t1")
    notes = [h.note for h in task.history]
    assert notes[1:] == ["joined by inspect (inspect t1 (post-storm)): post-storm sweep"]
    assert [t.id for t in crud.list_tasks(estate, active=True)] == [stabilize.id]


def test_a_harsher_kind_turns_the_task_into_it_and_raises_priority(estate: Session) -> None:
    inspect, _ = _open(estate, "inspect", priority=3)
    removed, created = _open(estate, "remove", priority=1, title="remove t1",
                             reason="tree down", now_ms=T0 + H)
    assert not created and removed.id == inspect.id
    assert (removed.kind, removed.title, removed.priority) == ("remove", "remove t1", 1)
    assert removed.due_ms == T0 + H + 4 * H  # the SLA of priority 1 from the escalation
    assert [h.note for h in removed.history[1:]] == [
        "kind inspect -> remove: tree down", "priority 3 -> 1: tree down"]
    # a milder finding later neither lowers the kind nor the priority
    again, _ = _open(estate, "stabilize", priority=2, now_ms=T0 + 2 * H)
    assert (again.kind, again.priority) == ("remove", 1)


def test_other_families_and_subjects_get_tasks_of_their_own(estate: Session) -> None:
    tree, _ = _open(estate, "stabilize")
    other_tree, created = _open(estate, "inspect", tree="t2", dedup_key="inspect:estate-a:t2")
    assert created and other_tree.id != tree.id
    drain, created = _open(estate, "drain", tree=None, zone="z1", dedup_key="drain:estate-a:z1")
    device, created2 = _open(estate, "device_check", tree=None, device="tilt-t1",
                             dedup_key="device_check:estate-a:tilt-t1")
    assert created and created2 and len({tree.id, other_tree.id, drain.id, device.id}) == 4


def test_closing_frees_the_subject_for_new_work(estate: Session) -> None:
    task, _ = _open(estate, "stabilize")
    for step in (workflow.acknowledge_task, workflow.start_task):
        if step is workflow.start_task:
            workflow.assign_task(estate, task.id, by="ops", owner="Chan")
        step(estate, task.id, by="ops")
    with pytest.raises(InvalidInputError, match="close-out needs evidence"):
        workflow.close_task(estate, task.id, by="Chan", note="staked")
    workflow.close_task(estate, task.id, by="Chan", note="staked",
                        evidence=[{"kind": "photo", "value": "photos/t1-after.jpg"}])
    fresh, created = _open(estate, "inspect", now_ms=T0 + H)
    assert created and fresh.id != task.id


def test_database_refuses_a_second_active_task_for_the_same_work(estate: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    from greeniot.registry.models import Task
    first, _ = _open(estate, "stabilize")
    estate.add(Task(site="estate-a", kind="inspect", priority=3, tree="t1", title="x",
                    state="open", created_ms=T0, updated_ms=T0, work_key=first.work_key,
                    evidence=[]))
    with pytest.raises(IntegrityError, match="work_key"):
        estate.commit()
    estate.rollback()


# --- roster and first responsible person ----------------------------------------------------

def _roster(session: Session) -> None:
    for name, role, rank in (("Chan", "crew", 1), ("Lee", "crew", 0),
                             ("GreenCo", "contractor", 0), ("Ms Wong", "property_manager", 0),
                             ("LCSD", "authority", 0)):
        crud.add_person(session, site="estate-a", name=name, role=role, rank=rank,
                        contact=f"{name}@example.org", notify_url=f"mailto://{rank}@localhost"
                        if name != "LCSD" else None)


def test_roster_lists_in_chain_order_and_refuses_bad_entries(estate: Session) -> None:
    _roster(estate)
    assert [(p.name, p.role) for p in crud.list_roster(estate, site="estate-a")] == [
        ("Lee", "crew"), ("Chan", "crew"), ("GreenCo", "contractor"),
        ("Ms Wong", "property_manager"), ("LCSD", "authority")]
    with pytest.raises(ConflictError, match="'Lee' is already on the roster"):
        crud.add_person(estate, site="estate-a", name="Lee", role="crew")
    with pytest.raises(InvalidInputError, match="role 'boss' is not one of"):
        crud.add_person(estate, site="estate-a", name="X", role="boss")
    with pytest.raises(NotFoundError, match="site 'nowhere' not found"):
        crud.add_person(estate, site="nowhere", name="X", role="crew")
    with pytest.raises(InvalidInputError, match="apprise cannot use this URL"):
        crud.add_person(estate, site="estate-a", name="X", role="crew",
                        notify_url="nosuchscheme://x")


def test_a_new_task_belongs_to_the_first_crew_member(estate: Session) -> None:
    nobody, _ = _open(estate, "stabilize", tree="t2", dedup_key="s:t2")
    assert nobody.owner is None  # no roster yet: nobody to name
    _roster(estate)
    task, _ = _open(estate, "stabilize", reason="lean 1.6 deg")
    assert (task.owner, task.responsible) == ("Lee", "Lee")
    assert task.history[0].note == "lean 1.6 deg; first responsible: Lee (crew)"
    crud.set_person_active(estate, site="estate-a", name="Lee", active=False)
    later, _ = _open(estate, "drain", tree=None, zone="z1", dedup_key="d:z1")
    assert later.owner == "Chan"


def test_a_passed_sla_escalates_along_the_chain_and_then_reminds(estate: Session) -> None:
    _roster(estate)
    crud.set_person_active(estate, site="estate-a", name="Ms Wong", active=False)
    sla = {1: 2 * H, 2: 8 * H, 3: 24 * H, 4: 48 * H, 5: 96 * H}
    task, _ = _open(estate, "stabilize", priority=1, sla_ms=sla)
    assert task.due_ms == T0 + 2 * H
    assert escalate_overdue(estate, now_ms=T0 + 2 * H - 1, sla_ms=sla) == []

    (first,) = escalate_overdue(estate, now_ms=T0 + 3 * H, sla_ms=sla)
    assert (first.from_person, first.to_person, first.to_role, first.level) == (
        "Lee", "GreenCo", "contractor", 1)
    assert (first.overdue_ms, first.due_ms, first.reminder) == (H, T0 + 5 * H, False)
    assert first.notify_url == "mailto://0@localhost"
    assert escalate_overdue(estate, now_ms=T0 + 4 * H, sla_ms=sla) == []  # fresh window

    # the property manager is off the roster: the next role that has someone is the authority
    (second,) = escalate_overdue(estate, now_ms=T0 + 6 * H, sla_ms=sla)
    assert (second.to_person, second.to_role, second.notify_url) == ("LCSD", "authority", None)
    (third,) = escalate_overdue(estate, now_ms=T0 + 9 * H, sla_ms=sla)
    assert (third.to_person, third.reminder, third.level) == ("LCSD", True, 3)

    task = crud.get_task(estate, task_id=task.id)
    assert (task.owner, task.responsible, task.escalation_level) == ("Lee", "LCSD", 3)
    assert [h.note for h in task.history if h.by == "sla"] == [
        "SLA passed 1.0 h ago; escalated from Lee to GreenCo (contractor)",
        "SLA passed 1.0 h ago; escalated from GreenCo to LCSD (authority)",
        "SLA passed 1.0 h ago; top of the chain: LCSD (authority) reminded",
    ]


def test_finished_tasks_and_other_sites_are_left_alone(estate: Session) -> None:
    _roster(estate)
    done, _ = _open(estate, "stabilize", priority=1)
    workflow.cancel_task(estate, done.id, by="ops", note="duplicate of a hotline ticket")
    open_b, _ = _open(estate, "inspect", site="estate-b", priority=1, dedup_key="i:b")
    (esc,) = escalate_overdue(estate, now_ms=T0 + 10 * H)
    assert (esc.task_id, esc.to_person, esc.reminder) == (open_b.id, None, True)
    assert crud.get_task(estate, task_id=open_b.id).history[-1].note.endswith(
        "the site has no roster to escalate to")


def test_processes_raising_related_work_at_once_make_one_task(db_url: str) -> None:
    """Separate engines race with different rules (dedup keys) on one tree: one task."""
    import threading

    from greeniot.registry.db import engine_from_url, migrate, session_factory

    migrate(db_url)
    engines = [engine_from_url(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    ids: list[int] = []
    errors: list[BaseException] = []
    kinds = ["inspect", "stabilize", "stake", "inspect"]

    def worker(n: int) -> None:
        try:
            with session_factory(engines[n])() as s:
                barrier.wait()
                for i in range(10):
                    task = crud.ensure_task(
                        s, site="estate-a", kind=kinds[n], title=f"{kinds[n]} t9",
                        tree="t9", dedup_key=f"{kinds[n]}:estate-a:t9", now_ms=T0 + i)[0]
                    ids.append(task.id)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert len(ids) == 40 and len(set(ids)) == 1
        with session_factory(engines[0])() as s:
            (task,) = crud.list_tasks(s)
            assert task.kind == "stabilize"  # the harshest kind raised wins
    finally:
        for e in engines:
            e.dispose()
