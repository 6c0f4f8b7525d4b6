"""All routes of ``/api/v1``, one module per resource."""

from fastapi import APIRouter

from greeniot.api.routes import (  # estate management (issue 10)
    alerts,
    calendar,
    complaints,
    contractors,
    devices,
    health,
    ledger,
    lifecycle,
    readings,
    sites,
    sunlight,
    tasks,
    trees,
    valves,
    zones,
)

api_router = APIRouter()
for _module in (health, sites, readings, zones, trees, devices, tasks, alerts, valves):
    api_router.include_router(_module.router)
api_router.include_router(lifecycle.router)  # alarm clears, deliveries, alert routes, roster
for _module in (ledger, complaints, calendar, contractors, sunlight):
    api_router.include_router(_module.router)
