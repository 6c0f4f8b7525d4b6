"""Retiring a tree (felled, replaced, died, removed) and replanting its successor.

Trees are never deleted: the row stays, with the date, reason and note of its retirement, so
its tasks, alerts and inspections keep pointing at it. A replanted tree is a new ledger row
that names its predecessor, and the retired tree names its successor.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.crud import create_tree, get_tree
from greeniot.registry.errors import ConflictError, InvalidInputError
from greeniot.registry.models import Site, Tree
from greeniot.registry.schemas import TreeCreate

RetireReason = Literal["felled", "replaced", "died", "removed"]
RETIRE_REASONS: tuple[str, ...] = get_args(RetireReason)


def local_date_ms(session: Session, site: str, date: dt.date) -> int:
    """Midnight of ``date`` in the site's time zone [ms UTC]."""
    from zoneinfo import ZoneInfo

    row = session.get(Site, site)
    tz = ZoneInfo(row.tz if row is not None else "UTC")
    return int(dt.datetime.combine(date, dt.time(), tz).timestamp() * 1000)


def retire_tree(session: Session, *, site: str, tree: str, reason: str, by: str,
                note: str = "", retired_ms: int | None = None,
                successor: TreeCreate | None = None, now_ms: int | None = None) -> Tree:
    """Mark ``tree`` retired; with ``successor``, plant it in the same transaction."""
    if reason not in RETIRE_REASONS:
        raise InvalidInputError(f"retire reason {reason!r} is not one of {RETIRE_REASONS}")
    if not by.strip():
        raise InvalidInputError("'by' (who retires the tree) is required")
    row = get_tree(session, site=site, tree=tree)
    if row.retired_ms is not None:
        raise ConflictError(f"tree '{tree}' at site '{site}' was already retired "
                            f"({row.retired_reason})")
    now = wall_clock_ms() if now_ms is None else now_ms
    row.retired_ms = now if retired_ms is None else retired_ms
    row.retired_reason = reason
    row.retired_note = f"{note.strip()} (by {by.strip()})".strip()
    row.updated_ms = now
    session.commit()
    if successor is not None:
        replant_tree(session, site=site, tree=tree, successor=successor, now_ms=now)
    return row


def replant_tree(session: Session, *, site: str, tree: str, successor: TreeCreate,
                 now_ms: int | None = None) -> Tree:
    """Plant ``successor`` in place of the retired ``tree``; returns the new tree."""
    old = get_tree(session, site=site, tree=tree)
    if old.retired_ms is None:
        raise ConflictError(f"tree '{tree}' is not retired: retire it before replanting")
    if old.successor_id is not None:
        raise ConflictError(f"tree '{tree}' already has a successor '{old.successor_id}'")
    if successor.site != site:
        raise InvalidInputError(f"the successor must be at site '{site}', not "
                                f"'{successor.site}'")
    fields = successor.model_dump()
    for name in ("lat", "lon"):  # planted where the old one stood unless told otherwise
        if fields[name] is None:
            fields[name] = getattr(old, name)
    new = create_tree(session, data=TreeCreate.model_validate(fields), now_ms=now_ms)
    new.predecessor_id = old.id
    old.successor_id = new.id
    session.commit()
    return new
