"""Crew tasks: list in working order, open by hand, move through the lifecycle, photo evidence.

The acting user is the caller's credential (api/security.py), never a field of the body.
Roles: reading viewer+; opening, acknowledging, starting, closing, uploading photos crew+;
assigning crew+ for oneself, operator+ for anyone else; cancelling operator+. Every task
route checks that the caller works on the task's site.

Errors: 404 unknown task, 409 a step the task's state does not allow (the body names
``from``, ``to`` and the ``allowed`` steps), 422 a missing close note, owner or evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi import status as http
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from greeniot.api.deps import SessionDep, SettingsDep, released
from greeniot.api.schemas import (
    Offset,
    TaskAssignBody,
    TaskCancelBody,
    TaskCloseBody,
    TaskId,
    TaskOpen,
    TaskStepBody,
)
from greeniot.api.schemas_access import PhotoPublic
from greeniot.api.security import CrewDep, OperatorDep, ViewerDep, require_site
from greeniot.registry import crud, photos, workflow
from greeniot.registry.accounts import Principal
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.models import Task
from greeniot.registry.models_access import TaskPhoto
from greeniot.registry.schemas import Id, Priority, TaskDetail, TaskPublic
from greeniot.registry.vocab import TaskKind, TaskState

router = APIRouter(prefix="/tasks", tags=["tasks"])
_STEP_ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "role too weak, or not the caller's site"},
    404: {"description": "no such task"},
    409: {"description": "the task's state does not allow this step"},
    422: {"description": "missing or invalid input (note, owner, evidence)"},
}


def _task(session: Session, who: Principal, task_id: TaskId) -> Task:
    task = crud.get_task(session, task_id=task_id)
    require_site(who, task.site)
    return task


@router.get("", response_model=list[TaskPublic])
def list_tasks(session: SessionDep, who: ViewerDep, site: Id | None = None,
               state: Annotated[list[TaskState] | None, Query()] = None,
               kind: TaskKind | None = None, priority: Priority | None = None,
               owner: str | None = None, active: bool | None = None,
               overdue: Annotated[bool, Query(description="only active tasks past due")] = False,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Offset = 0) -> Sequence[Task]:
    """Ordered as crews take them: priority, heritage trees first, then oldest first.
    Only tasks of the caller's sites."""
    if site is not None:
        require_site(who, site)
    found = crud.list_tasks(session, site=site, state=state, kind=kind, priority=priority,
                            owner=owner, active=active,
                            overdue_at_ms=wall_clock_ms() if overdue else None,
                            limit=limit, offset=offset)
    return [t for t in found if who.can_see(t.site)]


@router.post("", response_model=TaskDetail, status_code=http.HTTP_201_CREATED,
             responses={200: {"model": TaskDetail,
                              "description": "an active task already had this dedup_key"}})
def open_task(session: SessionDep, who: CrewDep, body: TaskOpen, response: Response) -> Task:
    require_site(who, body.site)
    task, created = crud.ensure_task(session, **body.model_dump(), by=who.username)
    if not created:
        response.status_code = http.HTTP_200_OK
    return task


@router.get("/{task_id}", response_model=TaskDetail, responses={404: _STEP_ERRORS[404]})
def get_task(session: SessionDep, who: ViewerDep, task_id: TaskId) -> Task:
    return _task(session, who, task_id)


@router.post("/{task_id}/acknowledge", response_model=TaskDetail, responses=_STEP_ERRORS)
def acknowledge(session: SessionDep, who: CrewDep, task_id: TaskId, body: TaskStepBody) -> Task:
    _task(session, who, task_id)
    return workflow.acknowledge_task(session, task_id, by=who.username, note=body.note)


@router.post("/{task_id}/assign", response_model=TaskDetail, responses=_STEP_ERRORS)
def assign(session: SessionDep, who: CrewDep, task_id: TaskId, body: TaskAssignBody) -> Task:
    """Name the first responsible person (``owner``) and who does the work (``assignee``).
    A crew member may take a task only for themselves; operators assign anyone."""
    _task(session, who, task_id)
    if not who.at_least("operator") and (body.assignee or body.owner) != who.username:
        raise HTTPException(http.HTTP_403_FORBIDDEN,
                            f"'{who.username}' (crew) may assign a task only to themselves")
    return workflow.assign_task(session, task_id, by=who.username, owner=body.owner,
                                assignee=body.assignee, note=body.note)


@router.post("/{task_id}/start", response_model=TaskDetail, responses=_STEP_ERRORS)
def start(session: SessionDep, who: CrewDep, task_id: TaskId, body: TaskStepBody) -> Task:
    _task(session, who, task_id)
    return workflow.start_task(session, task_id, by=who.username, note=body.note)


@router.post("/{task_id}/close", response_model=TaskDetail, responses=_STEP_ERRORS)
def close(session: SessionDep, who: CrewDep, task_id: TaskId, body: TaskCloseBody) -> Task:
    """Close out with a note of what was done (required) and evidence; a photo item's
    ``value`` is the id of a photo uploaded for this task."""
    _task(session, who, task_id)
    photos.check_photo_evidence(session, task_id=task_id, photo_ids=[
        e.value for e in body.evidence if e.kind == "photo"])
    return workflow.close_task(session, task_id, by=who.username, note=body.note,
                               evidence=body.evidence)


@router.post("/{task_id}/cancel", response_model=TaskDetail, responses=_STEP_ERRORS)
def cancel(session: SessionDep, who: OperatorDep, task_id: TaskId, body: TaskCancelBody) -> Task:
    _task(session, who, task_id)
    return workflow.cancel_task(session, task_id, by=who.username, note=body.note)


def photo_public(request: Request, photo: TaskPhoto) -> PhotoPublic:
    out = PhotoPublic.model_validate(photo)
    out.url = str(request.url_for("get_photo", task_id=photo.task_id, photo_id=photo.id).path)
    return out


@router.post("/{task_id}/photos", response_model=PhotoPublic,
             status_code=http.HTTP_201_CREATED,
             responses={404: _STEP_ERRORS[404],
                        422: {"description": "not a JPEG/PNG/WebP image, or too large"}})
async def upload_photo(request: Request, session: SessionDep, who: CrewDep,
                       settings: SettingsDep, task_id: TaskId,
                       file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
                       note: Annotated[str, Form(max_length=2000)] = "") -> PhotoPublic:
    """Store a photo as evidence for the task's close-out; reference it in ``close`` by id."""
    await released(session, _task, session, who, task_id)
    limit = settings.auth.photo_max_bytes
    data = await file.read(limit + 1)  # one byte over the limit is enough to refuse it
    photo = await run_in_threadpool(
        lambda: photos.save_photo(session, photos_dir=settings.photos_dir, task_id=task_id,
                                  data=data, by=who.username, note=note, max_bytes=limit,
                                  max_pixels=settings.auth.photo_max_pixels))
    return photo_public(request, photo)


@router.get("/{task_id}/photos", response_model=list[PhotoPublic])
def list_photos(request: Request, session: SessionDep, who: ViewerDep,
                task_id: TaskId) -> list[PhotoPublic]:
    _task(session, who, task_id)
    return [photo_public(request, p) for p in photos.list_photos(session, task_id=task_id)]


@router.get("/{task_id}/photos/{photo_id}", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
                       404: {"description": "no such photo of this task"}})
def get_photo(session: SessionDep, who: ViewerDep, settings: SettingsDep, task_id: TaskId,
              photo_id: str) -> FileResponse:
    _task(session, who, task_id)
    photo = photos.get_photo(session, task_id=task_id, photo_id=photo_id)
    return FileResponse(settings.photos_dir / photo.path, media_type=photo.content_type,
                        headers={"Cache-Control": "private, max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})
