"""Contractor assessment: per contractor (``tasks.contractor``) and month, a score of 100.

A task counts in the month it was opened (UTC). Measures:

- ``response_h``: median hours from opening to the crew starting work (``started_ms``): the
  contractor's own reaction, since the hotline or a manager acknowledges and assigns;
- ``closeout_h``: median hours from opening to close-out (closed tasks);
- ``sla_hit_pct``: closed tasks closed by their due time, of all closed;
- ``reopen_pct``: closed tasks that came back — a history step out of ``closed``, or an active
  task with the same dedup key opened within :data:`REOPEN_WINDOW_MS` of the close — of all
  closed;
- ``complaints``: residents' complaints that joined one of the contractor's tasks while it was
  open (they called again because it was not done);
- ``overdue``: the contractor's tasks still active past their due time at report time.

The points (:data:`SCORE_RULES`, documented in docs/estate.md) are a local assessment policy:
an estate changes them there, in one place.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.clock import MS_PER_HOUR
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.estate_models import Complaint
from greeniot.registry.models import Task, TaskHistory
from greeniot.registry.vocab import ACTIVE_TASK_STATES

REOPEN_WINDOW_MS = 30 * 24 * MS_PER_HOUR


def _linear(value: float | None, full_at: float, zero_at: float, points: float) -> float:
    """``points`` at or below ``full_at``, 0 at or above ``zero_at``, linear between."""
    if value is None:
        return 0.0
    if value <= full_at:
        return points
    if value >= zero_at:
        return 0.0
    return points * (zero_at - value) / (zero_at - full_at)


@dataclass(frozen=True, slots=True)
class ScoreRule:
    measure: str
    points: float
    rule: str
    score: Callable[[dict[str, Any]], float]


SCORE_RULES: tuple[ScoreRule, ...] = (
    ScoreRule("response_h", 20, "20 if the median response is 2 h or less, 0 at 24 h or more "
              "(or no task started), linear between",
              lambda m: _linear(m["response_h"], 2, 24, 20)),
    ScoreRule("closeout_h", 20, "20 if the median close-out is 72 h or less, 0 at 336 h "
              "(14 days) or more (or nothing closed), linear between",
              lambda m: _linear(m["closeout_h"], 72, 336, 20)),
    ScoreRule("sla_hit_pct", 30, "30 × the share of closed tasks closed by their due time "
              "(0 with nothing closed)",
              lambda m: 30 * (m["sla_hit_pct"] or 0) / 100),
    ScoreRule("reopen_pct", 10, "10 × (1 − the share of closed tasks that were reopened)",
              lambda m: 10 * (1 - (m["reopen_pct"] or 0) / 100) if m["closed"] else 0.0),
    ScoreRule("complaints", 10, "10 − 2.5 per complaint that joined an open task, at least 0",
              lambda m: max(0.0, 10 - 2.5 * m["complaints"])),
    ScoreRule("overdue", 10, "10 − 2.5 per task still active past due, at least 0",
              lambda m: max(0.0, 10 - 2.5 * m["overdue"])),
)


@dataclass(frozen=True, slots=True)
class ContractorMonth:
    contractor: str
    month: str  # YYYY-MM (UTC)
    tasks: int
    closed: int
    response_h: float | None
    closeout_h: float | None
    sla_hit_pct: float | None
    reopen_pct: float | None
    complaints: int
    overdue: int
    score: float


def _month(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m")


def _median_h(values: list[int]) -> float | None:
    return round(statistics.median(values) / MS_PER_HOUR, 2) if values else None


def score_contractors(session: Session, *, month: str | None = None,
                      contractor: str | None = None,
                      now_ms: int | None = None) -> list[ContractorMonth]:
    """The score table, one row per contractor and month, best score first within a month."""
    now = wall_clock_ms() if now_ms is None else now_ms
    query = select(Task).where(Task.contractor.is_not(None))
    if contractor is not None:
        query = query.where(Task.contractor == contractor)
    tasks = [t for t in session.scalars(query) if month is None or _month(t.created_ms) == month]
    ids = [t.id for t in tasks]
    left_closed = {tid for (tid,) in session.execute(
        select(TaskHistory.task_id).where(TaskHistory.task_id.in_(ids),
                                          TaskHistory.from_state == "closed"))}
    later: dict[str, list[int]] = defaultdict(list)
    keys = {t.dedup_key for t in tasks if t.dedup_key}
    for key, created in session.execute(select(Task.dedup_key, Task.created_ms)
                                        .where(Task.dedup_key.in_(keys))):
        later[str(key)].append(created)
    joined: dict[int, int] = defaultdict(int)
    for (task_id,) in session.execute(select(Complaint.task_id).where(
            Complaint.task_id.in_(ids), Complaint.joined.is_(True))):
        if task_id is not None:
            joined[task_id] += 1

    groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for t in tasks:
        groups[(str(t.contractor), _month(t.created_ms))].append(t)
    rows = []
    for (who, mon), group in groups.items():
        closed = [t for t in group if t.state == "closed" and t.closed_ms is not None]

        def reopened(t: Task) -> bool:
            if t.id in left_closed:
                return True
            closed_ms = t.closed_ms or 0
            return bool(t.dedup_key) and any(
                closed_ms < c <= closed_ms + REOPEN_WINDOW_MS for c in later[str(t.dedup_key)])

        measures: dict[str, Any] = {
            "tasks": len(group), "closed": len(closed),
            "response_h": _median_h([t.started_ms - t.created_ms for t in group
                                     if t.started_ms]),
            "closeout_h": _median_h([int(t.closed_ms or 0) - t.created_ms for t in closed]),
            "sla_hit_pct": round(100 * sum(1 for t in closed if t.due_ms is None
                                           or int(t.closed_ms or 0) <= t.due_ms) / len(closed),
                                 1) if closed else None,
            "reopen_pct": round(100 * sum(map(reopened, closed)) / len(closed), 1)
            if closed else None,
            "complaints": sum(joined[t.id] for t in group),
            "overdue": sum(1 for t in group if t.state in ACTIVE_TASK_STATES
                           and t.due_ms is not None and t.due_ms < now),
        }
        score = round(sum(r.score(measures) for r in SCORE_RULES), 1)
        rows.append(ContractorMonth(contractor=who, month=mon, score=score, **measures))
    rows.sort(key=lambda r: (r.month, -r.score, r.contractor))
    return rows


COLUMNS = [f for f in ContractorMonth.__dataclass_fields__]


def to_csv(rows: list[ContractorMonth]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return buf.getvalue()


def table_lines(rows: list[ContractorMonth]) -> list[str]:
    head = (f"{'contractor':<20} {'month':<7} {'tasks':>5} {'resp_h':>7} {'close_h':>8} "
            f"{'sla%':>6} {'reopen%':>7} {'compl':>5} {'overdue':>7} {'score':>6}")
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:g}"
    return [head] + [
        f"{r.contractor:<20} {r.month:<7} {r.tasks:>5} {f(r.response_h):>7} "
        f"{f(r.closeout_h):>8} {f(r.sla_hit_pct):>6} {f(r.reopen_pct):>7} {r.complaints:>5} "
        f"{r.overdue:>7} {r.score:>6}" for r in rows]
