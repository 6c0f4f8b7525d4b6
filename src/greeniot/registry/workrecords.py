"""Records of the work done for a task, kept with the task.

- ``pest_control``: the product, its dose and unit, the target pest — what an inspector asks
  for after spraying in a residential estate;
- ``pruning``: the largest cut's diameter; a cut of :data:`LARGE_CUT_CM` or more needs the
  approval (reference and approver) recorded;
- ``felling``: always with its approval;
- other work (watering, whitewash, freeze protection, drainage, service): a note.

:data:`LARGE_CUT_CM` is a local policy (many cities ask for a permit above some branch
diameter; set the estate's own value), not a quoted standard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import InvalidInputError, NotFoundError
from greeniot.registry.estate_models import WorkRecord
from greeniot.registry.models import Task
from greeniot.registry.schemas import Ms, Person
from greeniot.registry.workflow import add_history

LARGE_CUT_CM = 10.0
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Person
    ts_ms: Ms | None = None
    note: str = ""


class PestControlRecord(_Record):
    kind: Literal["pest_control"]
    product: Text
    dose: Annotated[float, Field(gt=0)]
    dose_unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=32)] = Field(examples=["ml/L"])
    target: str = ""
    area_m2: Annotated[float, Field(gt=0)] | None = None


class PruningRecord(_Record):
    kind: Literal["pruning"]
    max_cut_diameter_cm: Annotated[float, Field(ge=0, le=500)]
    approval_ref: Text | None = None
    approved_by: Person | None = None


class FellingRecord(_Record):
    kind: Literal["felling"]
    approval_ref: Text
    approved_by: Person


class GeneralRecord(_Record):
    kind: Literal["watering", "whitewash", "freeze_protection", "drainage", "service", "other"]
    note: Text


WorkRecordCreate = Annotated[PestControlRecord | PruningRecord | FellingRecord | GeneralRecord,
                             Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(WorkRecordCreate)


class WorkRecordPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    kind: str
    ts_ms: int
    by: str
    details: dict[str, Any]
    note: str


def parse_record(body: dict[str, Any]) -> Any:
    return _ADAPTER.validate_python(body)


def add_work_record(session: Session, task_id: int, record: Any, *,
                    large_cut_cm: float = LARGE_CUT_CM, now_ms: int | None = None
                    ) -> WorkRecord:
    """Keep ``record`` with the task (and a line in its history); checks approvals."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"task {task_id} not found")
    if (isinstance(record, PruningRecord) and record.max_cut_diameter_cm >= large_cut_cm
            and (record.approval_ref is None or record.approved_by is None)):
        raise InvalidInputError(
            f"task {task_id}: a cut of {record.max_cut_diameter_cm} cm (>= {large_cut_cm} cm) "
            "needs approval_ref and approved_by")
    now = wall_clock_ms() if now_ms is None else now_ms
    details = record.model_dump(exclude={"kind", "by", "ts_ms", "note"}, exclude_none=True)
    row = WorkRecord(task_id=task_id, kind=record.kind, by=record.by,
                     ts_ms=record.ts_ms or now, details=details, note=record.note)
    session.add(row)
    add_history(task, by=record.by, from_state=task.state, to_state=task.state,
                note=f"work record: {record.kind} "
                     + ", ".join(f"{k}={v}" for k, v in details.items()), ts_ms=now)
    session.commit()
    return row


def list_work_records(session: Session, task_id: int) -> Sequence[WorkRecord]:
    return session.scalars(select(WorkRecord).where(WorkRecord.task_id == task_id)
                           .order_by(WorkRecord.ts_ms, WorkRecord.id)).all()
