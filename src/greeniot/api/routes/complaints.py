"""Hotline complaints: intake (opens or joins a task), reply to the resident, hotspots.

The default answers carry no reporter contact; ``GET /complaints/{ticket}/contact`` does, for
the roles allowed to call residents back (access control is added with accounts and roles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi import status as http
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from greeniot.api.deps import SessionDep
from greeniot.api.schemas import Offset
from greeniot.api.security import OperatorDep, ViewerDep
from greeniot.registry.complaints import (
    Category,
    ComplaintContact,
    ComplaintCreate,
    ComplaintPublic,
    file_complaint,
    get_complaint,
    list_complaints,
    reply_complaint,
)
from greeniot.registry.estate_models import Complaint
from greeniot.registry.hotspots import hotspot_report
from greeniot.registry.schemas import Id, Ms

router = APIRouter(prefix="/complaints", tags=["complaints"])


@router.post("", response_model=ComplaintPublic, status_code=http.HTTP_201_CREATED,
             responses={200: {"model": ComplaintPublic,
                              "description": "this ticket number was filed before"}})
def file(session: SessionDep, who: OperatorDep,
         body: ComplaintCreate, response: Response) -> Complaint:
    complaint, created = file_complaint(session, body)
    if not created:
        response.status_code = http.HTTP_200_OK
    return complaint


@router.get("", response_model=list[ComplaintPublic])
def list_(session: SessionDep, who: ViewerDep,
          site: Id | None = None, category: Category | None = None,
          unanswered: bool | None = None, since_ms: Ms | None = None,
          until_ms: Ms | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
          offset: Offset = 0) -> Sequence[Complaint]:
    return list_complaints(session, site=site, category=category, unanswered=unanswered,
                           since_ms=since_ms, until_ms=until_ms, limit=limit, offset=offset)


@router.get("/hotspots", responses={200: {"content": {"text/html": {}}}})
def hotspots(session: SessionDep, who: ViewerDep,
             since_ms: Ms | None = None, until_ms: Ms | None = None,
             site: Id | None = None, top: Annotated[int, Query(ge=1, le=100)] = 10,
             min_repeats: Annotated[int, Query(ge=2, le=100)] = 2,
             format: Literal["json", "html"] = "json") -> Any:
    """Complaints per compound, category and month; top compounds; repeat locations
    (``format=html``: the same as a page of tables)."""
    report = hotspot_report(session, since_ms=since_ms, until_ms=until_ms, site=site, top=top,
                            min_repeats=min_repeats)
    if format == "html":
        return HTMLResponse(report.html())
    return report.as_dict()


@router.get("/{ticket}", response_model=ComplaintPublic)
def get(session: SessionDep, who: ViewerDep, ticket: str) -> Complaint:
    return get_complaint(session, ticket)


@router.get("/{ticket}/contact", response_model=ComplaintContact)
def contact(session: SessionDep, who: OperatorDep, ticket: str) -> Complaint:
    """The reporter's name and phone: for authorised roles only."""
    return get_complaint(session, ticket)


class ComplaintReplyBody(BaseModel):
    """The reply to the resident (the one who replied is the caller)."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=4000)]


@router.post("/{ticket}/reply", response_model=ComplaintPublic)
def reply(session: SessionDep, who: OperatorDep, ticket: str,
          body: ComplaintReplyBody) -> Complaint:
    """Record the reply given to the resident, and its time; the one who replied is the
    caller."""
    return reply_complaint(session, ticket, by=who.username, text=body.text)
