"""API-only models (the registry's own are in :mod:`greeniot.registry.schemas`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from greeniot.registry.schemas import Person, TaskCreate


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    db: str
    #: ``ok``, ``not configured`` or the error.
    influx: str
    version: str
    #: ``ok``, ``not configured`` or why not (the API serves while the broker is away).
    mqtt: str = "not configured"


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
    """A task opened by a person (complaint intake, inspection round)."""

    by: Person
