"""Crew tasks: list in working order, open by hand, and move through the lifecycle.

Errors: 404 unknown task, 409 a step the task's state does not allow (the body names
``from``, ``to`` and the ``allowed`` steps), 422 a missing close note, owner or evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import status as http

from greeniot.api.deps import SessionDep
from greeniot.api.schemas import TaskOpen
from greeniot.registry import crud, workflow
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.models import Task
from greeniot.registry.schemas import (
    Id,
    Priority,
    TaskAssign,
    TaskCancel,
    TaskClose,
    TaskDetail,
    TaskPublic,
    TaskStep,
)
from greeniot.registry.vocab import TaskKind, TaskState

router = APIRouter(prefix="/tasks", tags=["tasks"])
_STEP_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such task"},
    409: {"description": "the task's state does not allow this step"},
    422: {"description": "missing or invalid input (note, owner, evidence)"},
}


@router.get("", response_model=list[TaskPublic])
def list_tasks(session: SessionDep, site: Id | None = None,
               state: Annotated[list[TaskState] | None, Query()] = None,
               kind: TaskKind | None = None, priority: Priority | None = None,
               owner: str | None = None, active: bool | None = None,
               overdue: Annotated[bool, Query(description="only active tasks past due")] = False,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> Sequence[Task]:
    """Ordered as crews take them: priority, heritage trees first, then oldest first."""
    return crud.list_tasks(session, site=site, state=state, kind=kind, priority=priority,
                           owner=owner, active=active,
                           overdue_at_ms=wall_clock_ms() if overdue else None,
                           limit=limit, offset=offset)


@router.post("", response_model=TaskDetail, status_code=http.HTTP_201_CREATED,
             responses={200: {"model": TaskDetail,
                              "description": "an active task already had this dedup_key"}})
def open_task(session: SessionDep, body: TaskOpen, response: Response) -> Task:
    task, created = crud.ensure_task(session, **body.model_dump())
    if not created:
        response.status_code = http.HTTP_200_OK
    return task


@router.get("/{task_id}", response_model=TaskDetail, responses={404: _STEP_ERRORS[404]})
def get_task(session: SessionDep, task_id: int) -> Task:
    return crud.get_task(session, task_id=task_id)


@router.post("/{task_id}/acknowledge", response_model=TaskDetail, responses=_STEP_ERRORS)
def acknowledge(session: SessionDep, task_id: int, body: TaskStep) -> Task:
    return workflow.acknowledge_task(session, task_id, by=body.by, note=body.note)


@router.post("/{task_id}/assign", response_model=TaskDetail, responses=_STEP_ERRORS)
def assign(session: SessionDep, task_id: int, body: TaskAssign) -> Task:
    """Name the first responsible person (``owner``) and who does the work (``assignee``)."""
    return workflow.assign_task(session, task_id, by=body.by, owner=body.owner,
                                assignee=body.assignee, note=body.note)


@router.post("/{task_id}/start", response_model=TaskDetail, responses=_STEP_ERRORS)
def start(session: SessionDep, task_id: int, body: TaskStep) -> Task:
    return workflow.start_task(session, task_id, by=body.by, note=body.note)


@router.post("/{task_id}/close", response_model=TaskDetail, responses=_STEP_ERRORS)
def close(session: SessionDep, task_id: int, body: TaskClose) -> Task:
    """Close out with a note of what was done (required) and evidence."""
    return workflow.close_task(session, task_id, by=body.by, note=body.note,
                               evidence=body.evidence)


@router.post("/{task_id}/cancel", response_model=TaskDetail, responses=_STEP_ERRORS)
def cancel(session: SessionDep, task_id: int, body: TaskCancel) -> Task:
    return workflow.cancel_task(session, task_id, by=body.by, note=body.note)
