"""All routes of ``/api/v1``, one module per resource."""

from fastapi import APIRouter
from fastapi.routing import APIRoute

from greeniot.api.routes import (
    alerts,
    auth,
    calendar,
    complaints,
    contractors,
    devices,
    forecasts,
    health,
    irrigation,
    ledger,
    lifecycle,
    readings,
    sites,
    sunlight,
    tasks,
    trees,
    users,
    valves,
    zones,
)


def _document_role(router: APIRouter) -> None:
    """Show each operation's role in the OpenAPI schema (``x-required-role`` and a line of its
    description), read from the route's own guard so the two cannot disagree."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        roles = [str(getattr(d.call, "role", "")) for d in route.dependant.dependencies
                 if isinstance(getattr(d.call, "role", None), str)]
        role = roles[0] if roles else "public"
        route.openapi_extra = {**(route.openapi_extra or {}), "x-required-role": role}
        route.description = (f"**Role:** {role}" + (" or above" if roles else "")
                             + (f"\n\n{route.description}" if route.description else ""))


#: Every route module under ``/api/v1``, in the order they are included (the access test
#: walks them: a route without a role guard, or one missing from its policy, fails it).
ROUTE_MODULES = (health, auth, users, sites, readings, zones, trees, devices, tasks, alerts,
                 valves, lifecycle, ledger, complaints, calendar, contractors, sunlight,
                 forecasts, irrigation)

api_router = APIRouter()
for _module in ROUTE_MODULES:
    _document_role(_module.router)
    api_router.include_router(_module.router)
