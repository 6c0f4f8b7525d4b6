"""Who is the first responsible person of a site (and their contractor) for new work.

One function on purpose: today it reads the task assignments already in the registry (the
owner of the site's most recently assigned task); when sites get a roster of responsible
people (issue 12b), only this function changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.models import Task


@dataclass(frozen=True, slots=True)
class Responsible:
    person: str
    contractor: str | None


def site_first_responsible(session: Session, site: str) -> Responsible | None:
    """The first responsible person for new work at ``site``, or None if nobody is known."""
    task = session.scalars(
        select(Task).where(Task.site == site, Task.owner.is_not(None),
                           Task.assigned_ms.is_not(None))
        .order_by(Task.assigned_ms.desc(), Task.id.desc()).limit(1)
    ).first()
    if task is None or task.owner is None:
        return None
    return Responsible(person=task.owner, contractor=task.contractor)
