"""The readings behind a task, as a small inline SVG line chart for the crew page.

A task about a tree shows its tilt sensor's ``pitch_deg`` and ``roll_deg``; one about a zone
its soil probes' ``vwc_pct``; a device task the device's own channel. The query averages into
at most :data:`MAX_POINTS` buckets so the page stays light on a phone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from greeniot.api.deps import InfluxQuery
from greeniot.clock import MS_PER_HOUR
from greeniot.protocol.topics import ID_RE

MAX_POINTS = 120
#: Readings shown before the task opened, and at most after it [ms].
BEFORE_MS, AFTER_MS = 48 * MS_PER_HOUR, 48 * MS_PER_HOUR
WIDTH, HEIGHT, PAD = 320, 120, 4


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    unit: str
    ts_ms: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """Polylines in a WIDTH × HEIGHT box, with the value range and time span they cover."""

    lines: tuple[tuple[str, str], ...]  # (series name, SVG points)
    unit: str
    lo: float
    hi: float
    t0_ms: int
    t1_ms: int
    n_points: int


def subject(task: Any) -> tuple[str, str, tuple[str, ...], str] | None:
    """``(measurement, tag condition, fields, unit)`` for a task, or None."""
    if task.tree and ID_RE.fullmatch(task.tree):
        return ("tilt", f"\"tree\" = '{task.tree}'", ("pitch_deg", "roll_deg"), "°")
    if task.zone and ID_RE.fullmatch(task.zone):
        return ("soil", f"\"zone\" = '{task.zone}'", ("vwc_pct",), "%")
    if task.device and ID_RE.fullmatch(task.device):
        return ("tilt", f"\"device\" = '{task.device}'", ("pitch_deg", "roll_deg"), "°")
    return None


async def readings(influx: InfluxQuery, task: Any, *, now_ms: int) -> list[Series]:
    """Bucketed means of the task's readings from 48 h before it opened."""
    what = subject(task)
    if what is None or not ID_RE.fullmatch(task.site):
        return []
    measurement, where, fields, unit = what
    t0 = task.created_ms - BEFORE_MS
    t1 = min(now_ms, (task.closed_ms or now_ms) + AFTER_MS)
    bucket_s = max(1, math.ceil((t1 - t0) / 1000 / MAX_POINTS))
    cols = ", ".join(f'mean("{f}") AS "{f}"' for f in fields)
    q = (f'SELECT {cols} FROM "{measurement}" WHERE "site" = \'{task.site}\' AND {where} '
         f"AND time >= {t0}ms AND time <= {t1}ms GROUP BY time({bucket_s}s) fill(none)")
    rows = await influx.query(q)
    out = []
    for f in fields:
        pts = [(int(r["time"]), float(r[f])) for r in rows if r.get(f) is not None]
        if pts:
            out.append(Series(f, unit, tuple(t for t, _ in pts), tuple(v for _, v in pts)))
    return out


def chart(series: list[Series]) -> Chart | None:
    """Scale every series into the box on a shared time and value axis."""
    if not series:
        return None
    ts = [t for s in series for t in s.ts_ms]
    vs = [v for s in series for v in s.values]
    t0, t1 = min(ts), max(ts)
    lo, hi = min(vs), max(vs)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    span = max(1, t1 - t0)
    lines = []
    for s in series:
        pts = " ".join(
            f"{PAD + (t - t0) / span * (WIDTH - 2 * PAD):.1f},"
            f"{HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2 * PAD):.1f}"
            for t, v in zip(s.ts_ms, s.values, strict=True))
        lines.append((s.name, pts))
    return Chart(tuple(lines), series[0].unit, lo, hi, t0, t1, len(ts))
