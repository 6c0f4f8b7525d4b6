"""A site's responsibility chain: crew → contractor → property manager → authority.

Each person has a role on the chain, an order within the role (``rank``, lowest first), a
contact and the address their notifications go to. A new task's first responsible person is
the first active crew member of its site (:func:`first_responsible`); when its SLA passes the
task moves to the first person of the next role that has anyone (:func:`next_in_chain`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.crud.routes import check_reader, check_target
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import RosterEntry, Site
from greeniot.registry.vocab import CHAIN_ROLES

_ROLE_INDEX = {role: i for i, role in enumerate(CHAIN_ROLES)}


def _order(entry: RosterEntry) -> tuple[int, int, int]:
    return _ROLE_INDEX.get(entry.role, len(CHAIN_ROLES)), entry.rank, entry.id


def add_person(session: Session, *, site: str, name: str, role: str, rank: int = 0,
               contact: str = "", notify_url: str | None = None,
               now_ms: int | None = None, locale: str | None = None,
               tz: str | None = None) -> RosterEntry:
    """Put ``name`` on the chain of ``site`` as ``role``. Commits.

    ``notify_url``: an apprise URL (``mailto://``, ``wecombot://``, ``dingtalk://``,
    ``tgram://`` ...) or ``mqtt``; checked by :func:`greeniot.registry.crud.routes.check_target`.
    """
    name = name.strip()
    if not name:
        raise InvalidInputError("roster: a person's name is required")
    if role not in _ROLE_INDEX:
        raise InvalidInputError(f"roster: role {role!r} is not one of {CHAIN_ROLES}")
    if session.get(Site, site) is None:
        raise NotFoundError(f"site '{site}' not found")
    if notify_url:
        check_target("mqtt" if notify_url.strip() in ("mqtt", "mqtt:") else "apprise",
                     notify_url.strip(), None)
    locale, tz = check_reader(locale, tz)
    entry = RosterEntry(locale=locale, tz=tz, site=site, name=name, role=role, rank=rank,
                        contact=contact.strip(),
                        notify_url=(notify_url or "").strip() or None, active=True,
                        created_ms=wall_clock_ms() if now_ms is None else now_ms)
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError as err:
        raise ConflictError(f"roster: '{name}' is already on the roster of site '{site}'"
                            ) from err
    session.commit()
    return entry


def set_person_active(session: Session, *, site: str, name: str, active: bool) -> RosterEntry:
    """Take a person off the chain (``active=False``) or back on; their history stays. Commits."""
    entry = session.scalars(select(RosterEntry).where(
        RosterEntry.site == site, RosterEntry.name == name)).first()
    if entry is None:
        raise NotFoundError(f"roster: no '{name}' on site '{site}'")
    entry.active = active
    session.commit()
    return entry


def list_roster(session: Session, *, site: str | None = None, role: str | None = None,
                active: bool | None = None) -> Sequence[RosterEntry]:
    """In chain order: by site, role along the chain, rank, then when added."""
    query = select(RosterEntry)
    if site is not None:
        query = query.where(RosterEntry.site == site)
    if role is not None:
        query = query.where(RosterEntry.role == role)
    if active is not None:
        query = query.where(RosterEntry.active.is_(active))
    rows = session.scalars(query).all()
    return sorted(rows, key=lambda e: (e.site, *_order(e)))


def chain(session: Session, *, site: str) -> list[RosterEntry]:
    """The active people of ``site`` in escalation order."""
    return list(list_roster(session, site=site, active=True))


def first_responsible(session: Session, *, site: str) -> RosterEntry | None:
    """Who a new task of ``site`` belongs to: its first crew member (else the chain's first)."""
    people = chain(session, site=site)
    crew = [p for p in people if p.role == "crew"]
    return next(iter(crew or people), None)


def next_in_chain(people: Sequence[RosterEntry], current: str | None) -> RosterEntry | None:
    """The first person of the next role after ``current``'s that has anyone; None at the top.

    Someone not on the roster (an owner named by hand) counts as crew.
    """
    me = next((p for p in people if p.name == current), None)
    level = _ROLE_INDEX[me.role] if me is not None else _ROLE_INDEX["crew"]
    return next((p for p in sorted(people, key=_order) if _ROLE_INDEX[p.role] > level), None)
