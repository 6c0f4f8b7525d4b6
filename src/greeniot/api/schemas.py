"""API-only models (the registry's own are in :mod:`greeniot.registry.schemas`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from greeniot.registry.schemas import SQL_INT_MAX, Evidence, Person, TaskCreate

#: A task id in a path; beyond SQL_INT_MAX the database could not even look it up.
TaskId = Annotated[int, Path(ge=1, le=SQL_INT_MAX)]
#: Paging offset of list routes.
Offset = Annotated[int, Query(ge=0, le=SQL_INT_MAX)]


class AnalyticsProcess(BaseModel):
    """One analytics process (shard) as its retained liveness shows it."""

    #: ``ok``, ``failing`` (its loop does not run), ``stale`` (no liveness for 3 intervals),
    #: ``down`` (its broker connection dropped: crashed or killed), ``stopped`` (clean stop)
    state: Literal["ok", "failing", "stale", "down", "stopped"]
    reason: str
    heartbeat_age_s: float | None = None
    restarts: int = 0
    #: per-message failures and failed detector passes, by what failed
    failed: dict[str, int] = {}
    ticks: int = 0


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    db: str
    #: ``ok``, ``not configured`` or the error.
    influx: str
    version: str
    #: ``ok``, ``not configured`` or why not (the API serves while the broker is away).
    mqtt: str = "not configured"
    #: ``ok``, ``not configured`` or why not, naming the analytics process(es) at fault.
    analytics: str = "not configured"
    #: process name (``analytics`` or ``analytics-{shard}``) → its liveness
    analytics_processes: dict[str, AnalyticsProcess] = {}


class LatestReading(BaseModel):
    """The newest point of one device in one measurement."""

    device: str
    measurement: str
    ts_ms: int
    values: dict[str, float | int | str | bool]
    tags: dict[str, str]


class LatestReadings(BaseModel):
    site: str
    readings: list[LatestReading]


class TaskOpen(TaskCreate):
    """A task opened by a person (complaint intake, inspection round); the acting user is
    the one whose credential made the request."""


class _Body(BaseModel):
    # Forbid unknown fields: an old client still sending ``by`` learns that it is gone.
    model_config = ConfigDict(extra="forbid")


class TaskStepBody(_Body):
    """Body of acknowledge / start: an optional note (the actor is the caller)."""

    note: str = Field("", max_length=2000)


class TaskAssignBody(_Body):
    #: The first responsible person, accountable for the task until close-out.
    owner: Person
    #: Who does the work (a crew or contractor); defaults to the owner.
    assignee: Person | None = None
    note: str = Field("", max_length=2000)


class TaskCloseBody(_Body):
    note: str = Field(description="required: what was done", max_length=2000)
    #: Photos are referenced by the id ``POST /tasks/{id}/photos`` returned.
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)


class AlertAckBody(_Body):
    """Body of an alarm acknowledgement: an optional note (the actor is the caller)."""

    note: str = Field("", max_length=2000)


class TaskCancelBody(_Body):
    note: str = Field(description="required: why the task is cancelled", max_length=2000)
