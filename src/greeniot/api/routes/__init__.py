"""All routes of ``/api/v1``, one module per resource."""

from fastapi import APIRouter

from greeniot.api.routes import (
    alerts,
    auth,
    devices,
    health,
    readings,
    sites,
    tasks,
    trees,
    users,
    valves,
    zones,
)

api_router = APIRouter()
for _module in (health, auth, users, sites, readings, zones, trees, devices, tasks, alerts,
                valves):
    api_router.include_router(_module.router)
