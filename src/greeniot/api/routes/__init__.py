"""All routes of ``/api/v1``, one module per resource."""

from fastapi import APIRouter

from greeniot.api.routes import (
    alerts,
    devices,
    health,
    lifecycle,
    readings,
    sites,
    tasks,
    trees,
    valves,
    zones,
)

api_router = APIRouter()
for _module in (health, sites, readings, zones, trees, devices, tasks, alerts, valves):
    api_router.include_router(_module.router)
api_router.include_router(lifecycle.router)  # alarm clears, deliveries, alert routes, roster
