"""The maintenance calendar (rules per site, a run that opens due work) and work records.

``POST /calendar/run`` does what the maintenance process does periodically: it opens the task
of every occurrence now running that was not opened before (idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi import status as http
from pydantic import BaseModel, ConfigDict, Field

from greeniot.api.deps import SessionDep
from greeniot.registry import crud
from greeniot.registry.calendar import (
    CalendarRuleCreate,
    CalendarRulePublic,
    add_rule,
    calendar_tasks,
    install_presets,
    list_rules,
    run_calendar,
    set_rule_enabled,
)
from greeniot.registry.estate_models import CalendarRule, WorkRecord
from greeniot.registry.models import Task
from greeniot.registry.schemas import Id, Ms, TaskDetail, TaskPublic
from greeniot.registry.workrecords import (
    WorkRecordCreate,
    WorkRecordPublic,
    add_work_record,
    list_work_records,
)

router = APIRouter(tags=["calendar"])


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Run as of this time [ms UTC]; default now.
    now_ms: Ms | None = None


class ContractorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contractor: Annotated[str, Field(min_length=1, max_length=200)] | None


@router.post("/calendar/rules", response_model=CalendarRulePublic,
             status_code=http.HTTP_201_CREATED)
def create_rule(session: SessionDep, body: CalendarRuleCreate) -> CalendarRule:
    return add_rule(session, body)


@router.get("/calendar/rules", response_model=list[CalendarRulePublic])
def get_rules(session: SessionDep, site: Id | None = None) -> Sequence[CalendarRule]:
    return list_rules(session, site=site)


@router.post("/calendar/rules/presets", response_model=list[CalendarRulePublic])
def presets(session: SessionDep, site: Id, contractor: str | None = None
            ) -> list[CalendarRule]:
    """Install the example seasonal rules the site does not have yet."""
    return install_presets(session, site, contractor=contractor)


@router.post("/calendar/rules/{rule_id}/enabled", response_model=CalendarRulePublic)
def enable(session: SessionDep, rule_id: int,
           enabled: Annotated[bool, Body(embed=True)]) -> CalendarRule:
    return set_rule_enabled(session, rule_id, enabled)


@router.get("/calendar/rules/{rule_id}/tasks", response_model=list[TaskPublic])
def rule_tasks(session: SessionDep, rule_id: int) -> Sequence[Task]:
    return calendar_tasks(session, rule_id)


@router.post("/calendar/run")
def run(session: SessionDep, body: RunBody | None = None) -> dict[str, Any]:
    opened = run_calendar(session, body.now_ms if body else None)
    return {"opened": [{"rule_id": o.rule_id, "local_date": o.local_date.isoformat(),
                        "task_id": o.task_id} for o in opened]}


@router.post("/tasks/{task_id}/work-records", response_model=WorkRecordPublic,
             status_code=http.HTTP_201_CREATED)
def add_record(session: SessionDep, task_id: int, body: WorkRecordCreate) -> WorkRecord:
    """Pest control (product, dose), pruning (approval for large cuts), felling (approval)."""
    return add_work_record(session, task_id, body)


@router.get("/tasks/{task_id}/work-records", response_model=list[WorkRecordPublic])
def get_records(session: SessionDep, task_id: int) -> Sequence[WorkRecord]:
    crud.get_task(session, task_id=task_id)
    return list_work_records(session, task_id)


@router.put("/tasks/{task_id}/contractor", response_model=TaskDetail)
def set_contractor(session: SessionDep, task_id: int, body: ContractorBody) -> Task:
    """The organisation doing the work (scored per month)."""
    task = crud.get_task(session, task_id=task_id)
    task.contractor = body.contractor
    session.commit()
    return task
