"""Task lifecycle: every allowed step, every refused one, close-out rules, history."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.registry import crud, workflow
from greeniot.registry.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from greeniot.registry.models import Task
from greeniot.registry.vocab import TASK_STATES
from tests.registry.conftest import T0

Step = Callable[[Session, int], Task]

STEPS: dict[str, Step] = {
    "acknowledged": lambda s, i: workflow.acknowledge_task(s, i, by="ops", now_ms=T0 + 10),
    "assigned": lambda s, i: workflow.assign_task(s, i, by="ops", owner="Chan", now_ms=T0 + 20),
    "in_progress": lambda s, i: workflow.start_task(s, i, by="crew-3", now_ms=T0 + 30),
    "closed": lambda s, i: workflow.close_task(s, i, by="crew-3", note="staked", now_ms=T0 + 40,
                                               evidence=[{"kind": "text", "value": "2 stakes"}]),
    "cancelled": lambda s, i: workflow.cancel_task(s, i, by="ops", note="duplicate",
                                                   now_ms=T0 + 50),
}
#: The shortest path from open to each state.
PATH = {
    "open": [],
    "acknowledged": ["acknowledged"],
    "assigned": ["acknowledged", "assigned"],
    "in_progress": ["acknowledged", "assigned", "in_progress"],
    "closed": ["acknowledged", "assigned", "in_progress", "closed"],
    "cancelled": ["cancelled"],
}


_trees = itertools.count()


def _task(session: Session, **kw: Any) -> Task:
    # a tree of its own per task: one active task per tree and kind of work
    fields: dict[str, Any] = {"site": "estate-a", "kind": "stabilize", "title": "stake a tree",
                              "tree": f"tw{next(_trees)}", "priority": 2, "now_ms": T0}
    return crud.ensure_task(session, **(fields | kw))[0]


def _at(session: Session, state: str) -> Task:
    task = _task(session)
    for step in PATH[state]:
        task = STEPS[step](session, task.id)
    assert task.state == state
    return task


def test_transitions_table_covers_every_state() -> None:
    assert set(workflow.TRANSITIONS) == set(TASK_STATES)
    for targets in workflow.TRANSITIONS.values():
        assert set(targets) <= set(TASK_STATES)


def test_full_lifecycle_records_times_people_and_history(estate: Session) -> None:
    task = _task(estate)
    assert (task.state, task.created_ms, task.due_ms) == ("open", T0, T0 + 24 * 3_600_000)
    workflow.acknowledge_task(estate, task.id, by="ops", note="seen", now_ms=T0 + 10)
    workflow.assign_task(estate, task.id, by="ops", owner="Chan", assignee="GreenCo crew 3",
                         now_ms=T0 + 20)
    workflow.start_task(estate, task.id, by="crew-3", now_ms=T0 + 30)
    done = workflow.close_task(
        estate, task.id, by="crew-3", note="straightened and staked with two guys",
        evidence=[{"kind": "photo", "value": "photos/t2-after.jpg"},
                  {"kind": "url", "value": "https://example.org/report/17", "ts_ms": T0 + 39}],
        now_ms=T0 + 40)
    assert done.state == "closed"
    assert (done.ack_ms, done.assigned_ms, done.started_ms, done.closed_ms) == (
        T0 + 10, T0 + 20, T0 + 30, T0 + 40)
    assert (done.owner, done.assignee) == ("Chan", "GreenCo crew 3")
    assert done.close_note == "straightened and staked with two guys"
    assert done.evidence == [{"kind": "photo", "value": "photos/t2-after.jpg"},
                             {"kind": "url", "value": "https://example.org/report/17",
                              "ts_ms": T0 + 39}]
    history = [(h.from_state, h.to_state, h.by, h.ts_ms) for h in done.history]
    assert history == [
        (None, "open", "system", T0),
        ("open", "acknowledged", "ops", T0 + 10),
        ("acknowledged", "assigned", "ops", T0 + 20),
        ("assigned", "in_progress", "crew-3", T0 + 30),
        ("in_progress", "closed", "crew-3", T0 + 40),
    ]
    assert done.history[2].note == "owner Chan, assignee GreenCo crew 3"


INVALID = [(src, dst) for src in TASK_STATES for dst in STEPS
           if dst not in workflow.TRANSITIONS[src]]


@pytest.mark.parametrize(("src", "dst"), INVALID, ids=[f"{a}->{b}" for a, b in INVALID])
def test_invalid_transitions_are_refused_naming_from_and_to(estate: Session, src: str,
                                                            dst: str) -> None:
    task = _at(estate, src)
    before = len(task.history)
    with pytest.raises(InvalidTransitionError) as info:
        STEPS[dst](estate, task.id)
    err = info.value
    assert (err.task_id, err.from_state, err.to_state) == (task.id, src, dst)
    assert f"cannot go from '{src}' to '{dst}'" in str(err)
    estate.expire_all()
    again = crud.get_task(estate, task_id=task.id)
    assert again.state == src and len(again.history) == before


def test_every_allowed_transition_succeeds(estate: Session) -> None:
    for src, targets in workflow.TRANSITIONS.items():
        for dst in targets:
            task = _at(estate, src)
            moved = STEPS[dst](estate, task.id)
            assert moved.state == dst, (src, dst)
            assert (moved.history[-1].from_state, moved.history[-1].to_state) == (src, dst)


def test_reassignment_keeps_state_and_records_the_new_owner(estate: Session) -> None:
    task = _at(estate, "assigned")
    again = workflow.assign_task(estate, task.id, by="ops", owner="Wong", assignee="crew-5",
                                 note="Chan on leave", now_ms=T0 + 25)
    assert (again.state, again.owner, again.assignee) == ("assigned", "Wong", "crew-5")
    assert again.history[-1].note == "owner Wong, assignee crew-5: Chan on leave"


@pytest.mark.parametrize("note", ["", "   ", None])
def test_close_requires_a_note(estate: Session, note: str | None) -> None:
    task = _at(estate, "in_progress")
    with pytest.raises(InvalidInputError, match=f"task {task.id}: a close note"):
        workflow.close_task(estate, task.id, by="crew", note=note)  # type: ignore[arg-type]
    estate.expire_all()
    assert crud.get_task(estate, task_id=task.id).state == "in_progress"


def test_close_refuses_malformed_evidence(estate: Session) -> None:
    task = _at(estate, "in_progress")
    with pytest.raises(InvalidInputError, match="evidence item 1 is invalid"):
        workflow.close_task(estate, task.id, by="crew", note="done",
                            evidence=[{"kind": "text", "value": "ok"},
                                      {"kind": "video", "value": "x"}])
    assert crud.get_task(estate, task_id=task.id).state == "in_progress"


def test_assign_requires_an_owner_and_defaults_the_assignee(estate: Session) -> None:
    task = _at(estate, "acknowledged")
    with pytest.raises(InvalidInputError, match="first responsible person"):
        workflow.assign_task(estate, task.id, by="ops", owner="  ")
    assigned = workflow.assign_task(estate, task.id, by="ops", owner="Chan")
    assert (assigned.owner, assigned.assignee) == ("Chan", "Chan")


def test_cancel_needs_a_note_and_who(estate: Session) -> None:
    task = _task(estate)
    with pytest.raises(InvalidInputError, match="why the task is cancelled"):
        workflow.cancel_task(estate, task.id, by="ops", note="")
    with pytest.raises(InvalidInputError, match="'by'"):
        workflow.acknowledge_task(estate, task.id, by=" ")
    cancelled = workflow.cancel_task(estate, task.id, by="ops", note="false alarm",
                                     now_ms=T0 + 5)
    assert (cancelled.state, cancelled.closed_ms, cancelled.close_note) == (
        "cancelled", T0 + 5, "false alarm")


def test_unknown_task_is_not_found(estate: Session) -> None:
    with pytest.raises(NotFoundError, match="task 999 not found"):
        workflow.acknowledge_task(estate, 999, by="ops")
