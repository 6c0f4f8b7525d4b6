"""Hotline complaints: intake, the task they open or join, and the reply to the resident.

A complaint names a tree of the ledger, or a place (text, or lat/lon). It opens a task of the
kind its category calls for, or joins the active task already open for the same tree (or the
same place): residents calling three times about one leaning tree make one task with three
complaints, not three crews; a complaint also joins an active task of a matching kind on its
tree (:data:`JOINS_KINDS`), such as the removal task the tilt sensors opened. A new task goes
to the site's first responsible person
(:func:`greeniot.registry.responsible.site_first_responsible`) when one is known.

The reporter's name and phone are kept in the row but are not part of :class:`ComplaintPublic`;
:class:`ComplaintContact` carries them for the roles allowed to call residents back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.clock import MS_PER_HOUR
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.crud import ensure_task, get_tree
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.estate_models import Complaint
from greeniot.registry.models import Task
from greeniot.registry.responsible import site_first_responsible
from greeniot.registry.schemas import Id, Person
from greeniot.registry.vocab import ACTIVE_TASK_STATES
from greeniot.registry.workflow import acknowledge_task, add_history, assign_task

Channel = Literal["hotline_12345", "app", "walk_in"]
Category = Literal["leaning_or_fallen", "blocked_light", "overgrown", "pests",
                   "irrigation_leak", "green_damaged", "other"]
CHANNELS: tuple[str, ...] = get_args(Channel)
CATEGORIES: tuple[str, ...] = get_args(Category)

#: category → (task kind, priority). A leaning or fallen tree is a safety matter (priority 1).
CATEGORY_TASK: dict[str, tuple[str, int]] = {
    "leaning_or_fallen": ("inspect", 1),
    "blocked_light": ("prune", 3),
    "overgrown": ("prune", 4),
    "pests": ("pest_control", 3),
    "irrigation_leak": ("service", 2),
    "green_damaged": ("repair", 3),
    "other": ("inspect", 4),
}
#: Active tasks on the same tree that a complaint of the category joins instead of opening its
#: own: a resident reporting a leaning tree the tilt sensor already flagged joins that task.
JOINS_KINDS: dict[str, tuple[str, ...]] = {
    "leaning_or_fallen": ("remove", "stabilize", "straighten", "stake", "inspect"),
    "blocked_light": ("prune",),
    "overgrown": ("prune",),
    "pests": ("pest_control",),
    "irrigation_leak": ("service",),
    "green_damaged": ("repair",),
    "other": (),
}
#: Default time to reply to the resident [ms]: a local policy, not a standard (a city's
#: hotline sets its own deadline; pass ``reply_due_ms`` with the complaint to follow it).
DEFAULT_REPLY_MS = 48 * MS_PER_HOUR
BY = "hotline"


#: A time a person reads as a date (ticket number, reply deadline): 2000..2100 [ms UTC].
CalendarMs = Annotated[int, Field(ge=946_684_800_000, le=4_102_444_800_000,
                                  description="ms since the Unix epoch, UTC, 2000..2100")]


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Id
    channel: Channel
    category: Category
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    tree: Id | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    reporter_name: Annotated[str, StringConstraints(strip_whitespace=True,
                                                    max_length=120)] | None = None
    reporter_phone: Annotated[str, StringConstraints(strip_whitespace=True,
                                                     max_length=40)] | None = None
    #: The hotline's own ticket number; generated (``GC-YYYYMMDD-NNNN``) when absent.
    ticket: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=64)] | None = None
    received_ms: CalendarMs | None = None
    reply_due_ms: CalendarMs | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> ComplaintCreate:
        if self.tree is None and not self.location and (self.lat is None or self.lon is None):
            raise ValueError("a complaint needs a tree, a location text or lat and lon")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


class ComplaintPublic(BaseModel):
    """A complaint without the reporter's contact."""

    model_config = ConfigDict(from_attributes=True)

    ticket: str
    channel: Channel
    site: str
    tree: str | None
    lat: float | None
    lon: float | None
    location: str
    location_key: str
    category: Category
    text: str
    received_ms: int
    reply_due_ms: int
    task_id: int | None
    joined: bool
    reply_text: str | None
    reply_ms: int | None
    replied_by: str | None


class ComplaintContact(BaseModel):
    """The reporter's contact: for authorised roles only."""

    model_config = ConfigDict(from_attributes=True)

    ticket: str
    reporter_name: str | None
    reporter_phone: str | None


class ComplaintReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Person
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=4000)]


def location_key(data: ComplaintCreate) -> str:
    """Where repeats are counted: the tree, else the place text, else a ~11 m grid cell."""
    if data.tree is not None:
        return f"tree:{data.tree}"
    if data.location:
        return "place:" + " ".join(data.location.lower().split())
    return f"grid:{data.lat:.4f},{data.lon:.4f}"


def _new_ticket(session: Session, received_ms: int) -> str:
    day = dt.datetime.fromtimestamp(received_ms / 1000, dt.UTC).strftime("%Y%m%d")
    prefix = f"GC-{day}-"
    n = session.scalar(select(func.count()).select_from(Complaint)
                       .where(Complaint.ticket.like(prefix + "%"))) or 0
    return f"{prefix}{n + 1:04d}"


def file_complaint(session: Session, data: ComplaintCreate,
                   now_ms: int | None = None) -> tuple[Complaint, bool]:
    """Record the complaint and open or join its task; ``(complaint, created)``.

    A ticket number seen before returns that complaint unchanged (the hotline resent it).
    """
    now = wall_clock_ms() if now_ms is None else now_ms
    if data.ticket is not None:
        known = session.scalars(select(Complaint).where(Complaint.ticket == data.ticket)).first()
        if known is not None:
            return known, False
    heritage = None
    if data.tree is not None:
        tree = get_tree(session, site=data.site, tree=data.tree)  # 404 for an unknown tree
        heritage = tree.heritage
    received = now if data.received_ms is None else data.received_ms
    key = location_key(data)
    kind, priority = CATEGORY_TASK[data.category]
    title = f"complaint ({data.category.replace('_', ' ')}): " + (
        f"tree {data.tree}" if data.tree else data.location or key)
    existing = _open_task_on_tree(session, data) if data.tree is not None else None
    if existing is not None:
        task, created = existing, False
    else:
        task, created = ensure_task(
            session, site=data.site, kind=kind, title=title[:200], priority=priority,
            reason=data.text[:500], tree=data.tree, heritage=heritage,
            dedup_key=f"complaint:{data.site}:{key}", by=BY, now_ms=now,
            source_event={"complaint": data.ticket or "new", "category": data.category,
                          "channel": data.channel})
    complaint = Complaint(
        channel=data.channel, site=data.site, tree=data.tree, lat=data.lat, lon=data.lon,
        location=data.location, location_key=key, category=data.category, text=data.text,
        reporter_name=data.reporter_name, reporter_phone=data.reporter_phone,
        received_ms=received,
        reply_due_ms=data.reply_due_ms or received + DEFAULT_REPLY_MS,
        task_id=task.id, joined=not created)
    for _attempt in range(5):
        complaint.ticket = data.ticket or _new_ticket(session, received)
        try:
            with session.begin_nested():
                session.add(complaint)
            break
        except IntegrityError:
            if data.ticket is not None:
                raise ConflictError(f"complaint ticket {data.ticket!r} exists") from None
    else:
        raise ConflictError("could not allocate a complaint ticket number")
    note = f"complaint {complaint.ticket} ({data.channel}, {data.category})"
    add_history(task, by=BY, from_state=task.state, to_state=task.state,
                note=("joined: " if not created else "opened by ") + note, ts_ms=now)
    session.commit()
    if created:
        who = site_first_responsible(session, data.site)
        if who is not None:
            acknowledge_task(session, task.id, by=BY, note=note, now_ms=now)
            task.contractor = who.contractor
            assign_task(session, task.id, by=BY, owner=who.person,
                        note="the site's first responsible person", now_ms=now)
    return complaint, True


def _open_task_on_tree(session: Session, data: ComplaintCreate) -> Task | None:
    """The most urgent active task on the complaint's tree that its category joins."""
    kinds = JOINS_KINDS[data.category]
    if not kinds:
        return None
    return session.scalars(
        select(Task).where(Task.site == data.site, Task.tree == data.tree,
                           Task.kind.in_(kinds), Task.state.in_(ACTIVE_TASK_STATES))
        .order_by(Task.priority, Task.created_ms, Task.id).limit(1)).first()


def get_complaint(session: Session, ticket: str) -> Complaint:
    row = session.scalars(select(Complaint).where(Complaint.ticket == ticket)).first()
    if row is None:
        raise NotFoundError(f"complaint {ticket!r} not found")
    return row


def reply_complaint(session: Session, ticket: str, *, by: str, text: str,
                    now_ms: int | None = None) -> Complaint:
    """Record the reply given to the resident, and when; also noted in the task's history."""
    row = get_complaint(session, ticket)
    if not text.strip():
        raise InvalidInputError(f"complaint {ticket}: the reply text is required")
    if row.reply_ms is not None:
        raise ConflictError(f"complaint {ticket} was already answered by {row.replied_by}")
    now = wall_clock_ms() if now_ms is None else now_ms
    row.reply_text, row.reply_ms, row.replied_by = text.strip(), now, by.strip()
    task = session.get(Task, row.task_id) if row.task_id is not None else None
    if task is not None:
        add_history(task, by=by, from_state=task.state, to_state=task.state,
                    note=f"replied to complaint {ticket}", ts_ms=now)
    session.commit()
    return row


def list_complaints(session: Session, *, site: str | None = None,
                    category: str | None = None, unanswered: bool | None = None,
                    since_ms: int | None = None, until_ms: int | None = None,
                    limit: int = 500, offset: int = 0) -> Sequence[Complaint]:
    query = select(Complaint)
    if site is not None:
        query = query.where(Complaint.site == site)
    if category is not None:
        query = query.where(Complaint.category == category)
    if unanswered is not None:
        query = query.where(Complaint.reply_ms.is_(None) if unanswered
                            else Complaint.reply_ms.is_not(None))
    if since_ms is not None:
        query = query.where(Complaint.received_ms >= since_ms)
    if until_ms is not None:
        query = query.where(Complaint.received_ms < until_ms)
    query = query.order_by(Complaint.received_ms, Complaint.id).limit(limit).offset(offset)
    return session.scalars(query).all()
