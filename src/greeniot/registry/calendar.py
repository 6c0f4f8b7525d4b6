"""The maintenance calendar: seasonal work by rule, each occurrence a task on time.

A rule belongs to a site and names a kind of work, a window of local dates (``start_md`` ..
``end_md``, inclusive, wrapping the new year when ``end_md`` comes first) and a cadence: once
per window, or every ``every_days`` from the window's first day. An occurrence starts at
``hour_local`` on its local date, in the site's time zone (``sites.tz``), and lasts until the
next occurrence or the end of the window; that end is the task's due time.

:func:`due_occurrences` is pure: the occurrences running at ``now_ms``. :func:`run_calendar`
opens a task for each one not opened yet; an occurrence is recorded (unique per rule and
local date) in the same transaction as its task, so running it twice, or from two processes,
opens nothing twice, and a closed task is not opened again. An occurrence whose whole period
passed while nothing ran is skipped (the next one comes on time); run it at least hourly.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.crud import ensure_task
from greeniot.registry.errors import InvalidInputError, NotFoundError, RegistryError
from greeniot.registry.estate_models import CalendarOccurrence, CalendarRule
from greeniot.registry.models import Site, Task
from greeniot.registry.schemas import Id, Priority

log = logging.getLogger(__name__)

Work = Literal["winter_watering", "whitewash", "freeze_protection", "drainage_round",
               "pruning", "pest_patrol", "irrigation_service"]
WORKS: tuple[str, ...] = get_args(Work)
#: work → (task kind, default title)
WORK_TASK: dict[str, tuple[str, str]] = {
    "winter_watering": ("irrigate", "winter watering before the freeze"),
    "whitewash": ("winter_protect", "trunk whitewashing"),
    "freeze_protection": ("winter_protect", "freeze protection (wrapping, windbreaks)"),
    "drainage_round": ("drain", "rainy-season drainage round"),
    "pruning": ("prune", "annual pruning (dormant season)"),
    "pest_patrol": ("pest_control", "pest patrol"),
    "irrigation_service": ("service", "irrigation equipment service"),
}
#: Example windows for a temperate northern-hemisphere estate (north China): where a site
#: configures nothing else, ``greeniot calendar preset`` installs these. Local practice, not a
#: standard: each site sets its own dates.
PRESETS: dict[str, tuple[str, str, int | None]] = {
    "winter_watering": ("11-10", "11-30", None),
    "whitewash": ("11-01", "11-20", None),
    "freeze_protection": ("11-15", "12-10", None),
    "drainage_round": ("06-01", "09-15", 7),
    "pruning": ("12-01", "02-28", None),
    "pest_patrol": ("04-01", "10-31", 14),
    "irrigation_service": ("03-15", "03-31", None),
}
#: Growing season that annual pruning must stay out of (local dates, inclusive): a local
#: policy for temperate deciduous trees, pruned while dormant.
GROWING_SEASON: tuple[str, str] = ("04-01", "09-30")

MonthDay = Annotated[str, Field(pattern=r"^\d{2}-\d{2}$", examples=["11-15"])]


def _md(value: str, year: int = 2001) -> dt.date:
    """``"MM-DD"`` in ``year`` (Feb 29 falls back to Feb 28 in a common year)."""
    month, day = int(value[:2]), int(value[3:])
    if (month, day) == (2, 29):
        try:
            return dt.date(year, 2, 29)
        except ValueError:
            return dt.date(year, 2, 28)
    return dt.date(year, month, day)


def _days(start: str, end: str) -> set[int]:
    """Days of a (possibly wrapping) window as day numbers of the non-leap year 2001."""
    a, b = _md(start).timetuple().tm_yday, _md(end).timetuple().tm_yday
    return set(range(a, b + 1)) if a <= b else set(range(a, 366)) | set(range(1, b + 1))


class CalendarRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Id
    work: Work
    title: Annotated[str, Field(max_length=200)] = ""
    start_md: MonthDay
    end_md: MonthDay
    every_days: Annotated[int, Field(ge=1, le=366)] | None = None
    hour_local: Annotated[int, Field(ge=0, le=23)] = 8
    priority: Priority = 3
    zone: Id | None = None
    tree: Id | None = None
    contractor: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    enabled: bool = True

    @field_validator("start_md", "end_md")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            _md(value, 2000)
        except ValueError as err:
            raise ValueError(f"{value!r} is not a month-day (MM-DD)") from err
        return value

    @model_validator(mode="after")
    def _pruning_out_of_season(self) -> CalendarRuleCreate:
        if self.work == "pruning":
            overlap = _days(self.start_md, self.end_md) & _days(*GROWING_SEASON)
            if overlap:
                raise ValueError(f"annual pruning {self.start_md}..{self.end_md} overlaps the "
                                 f"growing season {GROWING_SEASON[0]}..{GROWING_SEASON[1]}")
        return self


class CalendarRulePublic(CalendarRuleCreate):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What scheduling needs of a rule."""

    rule_id: int
    tz: str
    start_md: str
    end_md: str
    every_days: int | None
    hour_local: int


@dataclass(frozen=True, slots=True)
class Occurrence:
    rule_id: int
    local_date: dt.date
    start_ms: int  # when the task opens [ms UTC]
    end_ms: int  # next occurrence or end of window: the task's due time [ms UTC]


def _local_ms(day: dt.date, hour: int, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(hour), tz).timestamp() * 1000)


def _window_occurrences(rule: RuleSpec, first: dt.date) -> list[Occurrence]:
    tz = ZoneInfo(rule.tz)
    last = _md(rule.end_md, first.year)
    if last < first:
        last = _md(rule.end_md, first.year + 1)
    window_end = _local_ms(last + dt.timedelta(days=1), 0, tz)
    step = rule.every_days
    days = [first] if step is None else [
        first + dt.timedelta(days=i) for i in range(0, (last - first).days + 1, step)]
    starts = [_local_ms(d, rule.hour_local, tz) for d in days]
    ends = [*starts[1:], window_end]
    return [Occurrence(rule.rule_id, d, s, e) for d, s, e in zip(days, starts, ends, strict=True)]


def due_occurrences(rules: Iterable[RuleSpec], now_ms: int) -> list[Occurrence]:
    """The occurrences running at ``now_ms``: started, and their period not over."""
    out = []
    for rule in rules:
        local_year = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(rule.tz)).year
        for year in (local_year - 1, local_year):  # a window of last year may wrap into now
            for occ in _window_occurrences(rule, _md(rule.start_md, year)):
                if occ.start_ms <= now_ms < occ.end_ms:
                    out.append(occ)
    return out


def add_rule(session: Session, data: CalendarRuleCreate, now_ms: int | None = None
             ) -> CalendarRule:
    if session.get(Site, data.site) is None:
        raise InvalidInputError(f"site '{data.site}' is not in the registry: create it first")
    row = CalendarRule(**data.model_dump(),
                       created_ms=wall_clock_ms() if now_ms is None else now_ms)
    if not row.title:
        row.title = WORK_TASK[data.work][1]
    session.add(row)
    session.commit()
    return row


def list_rules(session: Session, *, site: str | None = None) -> Sequence[CalendarRule]:
    query = select(CalendarRule).order_by(CalendarRule.site, CalendarRule.id)
    if site is not None:
        query = query.where(CalendarRule.site == site)
    return session.scalars(query).all()


def set_rule_enabled(session: Session, rule_id: int, enabled: bool) -> CalendarRule:
    row = session.get(CalendarRule, rule_id)
    if row is None:
        raise NotFoundError(f"calendar rule {rule_id} not found")
    row.enabled = enabled
    session.commit()
    return row


def install_presets(session: Session, site: str, *, contractor: str | None = None,
                    now_ms: int | None = None) -> list[CalendarRule]:
    """Add the :data:`PRESETS` rules a site does not have yet (by work)."""
    have = {r.work for r in list_rules(session, site=site)}
    return [add_rule(session, CalendarRuleCreate(site=site, work=work, start_md=a, end_md=b,
                                                 every_days=every, contractor=contractor),
                     now_ms=now_ms)
            for work, (a, b, every) in PRESETS.items() if work not in have]


@dataclass(frozen=True, slots=True)
class Opened:
    rule_id: int
    local_date: dt.date
    task_id: int


def run_calendar(session: Session, now_ms: int | None = None) -> list[Opened]:
    """Open the task of every running occurrence not opened before; what it opened."""
    now = wall_clock_ms() if now_ms is None else now_ms
    rules = {r.id: r for r in session.scalars(select(CalendarRule)
                                              .where(CalendarRule.enabled.is_(True)))}
    tz = {s.id: s.tz for s in session.scalars(select(Site))}
    specs = [RuleSpec(r.id, tz.get(r.site, "UTC"), r.start_md, r.end_md, r.every_days,
                      r.hour_local) for r in rules.values()]
    opened = []
    for occ in due_occurrences(specs, now):
        rule = rules[occ.rule_id]
        date = occ.local_date.isoformat()
        row = CalendarOccurrence(rule_id=rule.id, local_date=date, due_at_ms=occ.end_ms,
                                 created_ms=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue  # opened by an earlier run
        kind = WORK_TASK[rule.work][0]
        try:
            task, _created = ensure_task(
                session, site=rule.site, kind=kind, priority=rule.priority, tree=rule.tree,
                zone=rule.zone, title=f"{rule.title} ({date})"[:200],
                reason=f"calendar rule {rule.id}: {rule.work} {rule.start_md}..{rule.end_md}"
                       + (f" every {rule.every_days} d" if rule.every_days else ""),
                due_ms=occ.end_ms, dedup_key=f"calendar:{rule.id}:{date}", by="calendar",
                now_ms=now)
        except RegistryError as err:  # one broken rule must not stop the others
            session.rollback()
            log.warning("calendar rule %d (%s) not run: %s", rule.id, date, err)
            continue
        row.task_id = task.id
        if rule.contractor and task.contractor is None:
            task.contractor = rule.contractor
        session.commit()
        opened.append(Opened(rule.id, occ.local_date, task.id))
    if opened:
        log.info("calendar opened %d task(s)", len(opened))
    return opened


def calendar_tasks(session: Session, rule_id: int) -> Sequence[Task]:
    """The tasks a rule has opened, oldest first."""
    ids = session.scalars(select(CalendarOccurrence.task_id)
                          .where(CalendarOccurrence.rule_id == rule_id)).all()
    return session.scalars(select(Task).where(Task.id.in_([i for i in ids if i is not None]))
                           .order_by(Task.created_ms, Task.id)).all()
