"""Alarm clears, deliveries, alert routes and the site roster.

- ``POST /alerts/{id}/clear`` (a note is required), ``GET /alerts/{id}/deliveries``,
  ``GET /deliveries``: what was sent to whom, and what became of it;
- ``/alert-routes``: which alerts go where (site, minimum severity, sink, rate limit);
  targets are shown with their secrets hidden, webhook secrets never;
- ``/sites/{site}/roster``: the responsibility chain (crew → contractor → property manager →
  authority) that names a task's first responsible person and takes it when its SLA passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Response
from fastapi import status as http
from sqlalchemy.orm import Session

from greeniot.actions.sinks.apprise import redact
from greeniot.api.deps import SessionDep
from greeniot.api.security import CrewDep, OperatorDep, ViewerDep, require_site
from greeniot.registry import crud
from greeniot.registry.models import Alert, AlertRoute, Delivery, RosterEntry
from greeniot.registry.schemas import Id
from greeniot.registry.schemas_lifecycle import (
    AlertClear,
    AlertDetail,
    DeliveryPublic,
    RosterCreate,
    RosterPublic,
    RouteCreate,
    RoutePublic,
)
from greeniot.registry.vocab import DeliveryState

router = APIRouter(tags=["alerts"])


def alert_detail(session: Session, alert: Alert) -> AlertDetail:
    """The alarm with its history and the deliveries of its notifications."""
    return AlertDetail.model_validate(
        {**{c.key: getattr(alert, c.key) for c in Alert.__table__.columns},
         "history": alert.history,
         "deliveries": crud.list_deliveries(session, alert_id=alert.id)},
        from_attributes=True)


def hide(kind: str, target: str | None) -> str | None:
    """A target without its secrets: apprise's privacy form; a webhook without its query."""
    if target is None or kind == "mqtt" or target in ("mqtt", "mqtt:"):
        return target
    if kind == "webhook":
        parts = urlsplit(target)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" \
               f"{parts.path}"
    return redact(target)


@router.post("/alerts/{alert_id}/clear", response_model=AlertDetail,
             responses={404: {"description": "no such alert"}})
def clear(session: SessionDep, who: CrewDep, alert_id: str, body: AlertClear) -> AlertDetail:
    """Clear the alarm by hand with a note; the next occurrence opens a new alarm.
    Clearing a cleared alarm changes nothing. Only alarms of the caller's sites."""
    require_site(who, crud.get_alert(session, alert_id=alert_id).site)
    alert = crud.clear_alarm(session, alert_id=alert_id, note=body.note, by=who.username)
    assert alert is not None  # by id: NotFoundError rather than None
    return alert_detail(session, alert)


@router.get("/alerts/{alert_id}/deliveries", response_model=list[DeliveryPublic])
def alert_deliveries(session: SessionDep, who: ViewerDep, alert_id: str) -> Sequence[Delivery]:
    # 404 for an unknown alert, 403 for another site's
    require_site(who, crud.get_alert(session, alert_id=alert_id).site)
    return crud.list_deliveries(session, alert_id=alert_id)


@router.get("/deliveries", response_model=list[DeliveryPublic], tags=["deliveries"])
def deliveries(session: SessionDep, who: ViewerDep, state: DeliveryState | None = None,
               task_id: int | None = None, recipient: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Sequence[Delivery]:
    """Oldest first; e.g. ``state=failed`` for what is being retried."""
    return crud.list_deliveries(session, state=state, task_id=task_id, recipient=recipient,
                                limit=limit)


# --- alert routes ------------------------------------------------------------------------------

def _route(route: AlertRoute) -> RoutePublic:
    return RoutePublic(name=route.name, kind=route.kind,
                       target=hide(route.kind, route.target) or "", site=route.site,
                       min_severity=route.min_severity,
                       has_secret=bool(route.secret), rate_max=route.rate_max,
                       rate_window_s=route.rate_window_s, enabled=route.enabled,
                       created_ms=route.created_ms, locale=route.locale, tz=route.tz)


@router.get("/alert-routes", response_model=list[RoutePublic], tags=["alert routes"])
def list_routes(session: SessionDep, who: ViewerDep, site: Id | None = None) -> list[RoutePublic]:
    """By name; ``site``: the routes that apply to it (its own and every-site routes)."""
    return [_route(r) for r in crud.list_routes(session, site=site)]


@router.post("/alert-routes", response_model=RoutePublic, status_code=http.HTTP_201_CREATED,
             tags=["alert routes"],
             responses={409: {"description": "a route of that name exists"},
                        422: {"description": "a target the sink cannot use"}})
def add_route(session: SessionDep, who: OperatorDep, body: RouteCreate) -> RoutePublic:
    return _route(crud.add_route(session, **body.model_dump()))


@router.post("/alert-routes/{name}/enable", response_model=RoutePublic, tags=["alert routes"])
def enable_route(session: SessionDep, who: OperatorDep, name: str) -> RoutePublic:
    return _route(crud.set_route_enabled(session, name=name, enabled=True))


@router.post("/alert-routes/{name}/disable", response_model=RoutePublic, tags=["alert routes"])
def disable_route(session: SessionDep, who: OperatorDep, name: str) -> RoutePublic:
    return _route(crud.set_route_enabled(session, name=name, enabled=False))


@router.delete("/alert-routes/{name}", status_code=http.HTTP_204_NO_CONTENT,
               tags=["alert routes"])
def delete_route(session: SessionDep, who: OperatorDep, name: str) -> Response:
    crud.delete_route(session, name=name)
    return Response(status_code=http.HTTP_204_NO_CONTENT)


# --- roster ------------------------------------------------------------------------------------

def _person(entry: RosterEntry) -> RosterPublic:
    url = entry.notify_url
    return RosterPublic(site=entry.site, name=entry.name, role=entry.role,
                        rank=entry.rank, contact=entry.contact,
                        notify_url=hide("mqtt" if url in ("mqtt", "mqtt:") else "apprise", url),
                        active=entry.active, created_ms=entry.created_ms,
                        locale=entry.locale, tz=entry.tz)


@router.get("/sites/{site}/roster", response_model=list[RosterPublic], tags=["roster"])
def roster(session: SessionDep, who: ViewerDep,
           site: Id, active: bool | None = None) -> list[RosterPublic]:
    """In escalation order: crew, contractor, property manager, authority; by rank."""
    crud.get_site(session, site=site)
    return [_person(e) for e in crud.list_roster(session, site=site, active=active)]


@router.post("/sites/{site}/roster", response_model=RosterPublic,
             status_code=http.HTTP_201_CREATED, tags=["roster"],
             responses={404: {"description": "no such site"},
                        409: {"description": "already on the roster"}})
def add_person(session: SessionDep, who: OperatorDep, site: Id, body: RosterCreate) -> RosterPublic:
    return _person(crud.add_person(session, site=site, **body.model_dump()))


@router.post("/sites/{site}/roster/{name}/deactivate", response_model=RosterPublic,
             tags=["roster"])
def deactivate(session: SessionDep, who: OperatorDep, site: Id, name: str) -> RosterPublic:
    """Off the chain (no new tasks, no escalations); history keeps the name."""
    return _person(crud.set_person_active(session, site=site, name=name, active=False))


@router.post("/sites/{site}/roster/{name}/activate", response_model=RosterPublic,
             tags=["roster"])
def activate(session: SessionDep, who: OperatorDep, site: Id, name: str) -> RosterPublic:
    return _person(crud.set_person_active(session, site=site, name=name, active=True))
