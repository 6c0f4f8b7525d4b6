"""The winter-solstice sunlight check of one window against the trees of the ledger.

Direct sun counts while the sun is above the horizon (apparent elevation > ``min_elevation_deg``)
*and* in front of the window (within ±90° of its facing azimuth) *and* no crown lies on the
ray from the window toward it. Sampled every ``step_s`` (default 60 s, so hours are exact to
about a minute).

The required hours are a policy parameter (``threshold_h``, default 1.5 h). China's residential
planning code sets such minimums: GB 50180-93 (城市居住区规划设计规范) asks for at least 2 h on
大寒日 or 1 h on 冬至日 for housing in large cities, and 2 h on 冬至日 for homes of the elderly
(quoted at http://m.studyofnet.com/699404098.html); its 2018 revision sets them by climate
zone and city size. Those rules also restrict the counted hours to an effective window of the
day in solar time: pass ``solar_hours`` (local mean solar time, e.g. ``(9, 15)``) to apply one.
Check the rule in force where the estate is: the default here is configurable policy, not a
quotation of a standard.

When the window gets less than ``threshold_h``, the check names the trees to prune: greedily,
the crown whose removal gives back the most sun first, until the threshold is met (pruning is
modelled as clearing the crown from the window's sight line). If even clearing every crown
would not reach it (the building's own orientation), no tree is named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.crud import ensure_task
from greeniot.registry.errors import NotFoundError
from greeniot.registry.models import Site, Tree
from greeniot.sunlight.crowns import Crowns, blocked_by_crowns, sun_directions
from greeniot.sunlight.solar import SunPath, sun_path, winter_solstice

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
DEFAULT_THRESHOLD_H = 1.5


@dataclass(frozen=True, slots=True)
class Window:
    site: str
    lat: float
    lon: float
    height_m: float  # window sill/centre above ground [m]
    facing_deg: float  # azimuth of the window's outward normal, clockwise from north
    name: str = "window"


@dataclass(frozen=True, slots=True)
class SunlightResult:
    window: Window
    date: dt.date
    threshold_h: float
    #: hours with the sun up and in front of the window, trees ignored
    open_sky_h: float
    #: hours of direct sun with the trees' shadows
    direct_h: float
    #: tree → hours its crown alone shadows the window (of the open-sky hours)
    blocked_h: dict[str, float]
    #: trees whose pruning restores ``threshold_h`` (empty when it is met or cannot be)
    prune: tuple[str, ...]
    #: direct hours after pruning ``prune``
    restored_h: float
    #: trees near the window left out, with why (no position, height or crown radius)
    skipped: dict[str, str] = field(default_factory=dict)
    #: first shadowed and last sunny times, local HH:MM, for reading the result
    sunny_periods: tuple[tuple[str, str], ...] = ()
    task_ids: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.direct_h >= self.threshold_h

    def as_dict(self) -> dict[str, Any]:
        return {"window": vars_of(self.window), "date": self.date.isoformat(),
                "threshold_h": self.threshold_h, "open_sky_h": self.open_sky_h,
                "direct_h": self.direct_h, "ok": self.ok, "blocked_h": self.blocked_h,
                "prune": list(self.prune), "restored_h": self.restored_h,
                "skipped": self.skipped,
                "sunny_periods": [list(p) for p in self.sunny_periods],
                "task_ids": list(self.task_ids)}


def vars_of(w: Window) -> dict[str, Any]:
    return {"site": w.site, "lat": w.lat, "lon": w.lon, "height_m": w.height_m,
            "facing_deg": w.facing_deg, "name": w.name}


def in_front(path: SunPath, facing_deg: float, min_elevation_deg: float = 0.0) -> NDArray[Any]:
    """Samples with the sun above ``min_elevation_deg`` and within ±90° of ``facing_deg``."""
    delta = np.radians(path.azimuth_deg - facing_deg)
    return (path.elevation_deg > min_elevation_deg) & (np.cos(delta) > 0)


def sunlight_hours(path: SunPath, *, height_m: float, facing_deg: float, crowns: Crowns,
                   min_elevation_deg: float = 0.0,
                   counted: NDArray[np.bool_] | None = None) -> tuple[NDArray[Any], NDArray[Any]]:
    """``(sun, blocked)``: counted sun samples (n,) and per-crown shadow masks (m, n)."""
    sun = in_front(path, facing_deg, min_elevation_deg)
    if counted is not None:
        sun &= counted
    dirs = sun_directions(path.elevation_deg, path.azimuth_deg)
    blocked = blocked_by_crowns(np.array([0.0, 0.0, height_m]), dirs, crowns) & sun[None, :]
    return sun, blocked


def plan_pruning(sun: NDArray[Any], blocked: NDArray[Any], need: int) -> list[int]:
    """Greedy: crowns to clear, most sun given back first, until ``need`` samples are sunny."""
    remaining = list(range(blocked.shape[0]))
    chosen: list[int] = []

    def sunny(keep: list[int]) -> int:
        shade = blocked[keep].any(axis=0) if keep else np.zeros_like(sun)
        return int((sun & ~shade).sum())

    if sunny([]) < need:
        return []
    while remaining and sunny(remaining) < need:
        best = max(remaining, key=lambda i: sunny([j for j in remaining if j != i]))
        remaining.remove(best)
        chosen.append(best)
    return chosen


def _enu(window: Window, lat: float, lon: float) -> tuple[float, float]:
    east = math.radians(lon - window.lon) * EARTH_RADIUS_M * math.cos(math.radians(window.lat))
    north = math.radians(lat - window.lat) * EARTH_RADIUS_M
    return east, north


def crowns_near(session: Session, window: Window, radius_m: float
                ) -> tuple[list[str], Crowns, dict[str, str]]:
    """Standing trees of the window's site within ``radius_m``, as crowns."""
    ids: list[str] = []
    cols: dict[str, list[float]] = {k: [] for k in ("e", "n", "top", "base", "r", "cone")}
    skipped: dict[str, str] = {}
    for t in session.scalars(select(Tree).where(Tree.site == window.site,
                                                Tree.retired_ms.is_(None))):
        if t.lat is None or t.lon is None:
            continue
        e, n = _enu(window, t.lat, t.lon)
        if math.hypot(e, n) > radius_m:
            continue
        if t.height_m is None or t.crown_radius_m is None:
            skipped[t.id] = "no height_m or crown_radius_m in the ledger"
            continue
        cone = t.crown_shape == "cone"
        # Without a crown base: a round crown sits on its trunk (top minus its diameter); a
        # conifer's crown reaches down to a fifth of its height.
        base = t.crown_base_m if t.crown_base_m is not None else (
            0.2 * t.height_m if cone else max(0.0, t.height_m - 2 * t.crown_radius_m))
        if base >= t.height_m:
            skipped[t.id] = f"crown_base_m {base} is not below height_m {t.height_m}"
            continue
        ids.append(t.id)
        for k, v in zip(cols, (e, n, t.height_m, base, t.crown_radius_m, float(cone)),
                        strict=True):
            cols[k].append(v)
    arr = {k: np.array(v, dtype=np.float64) for k, v in cols.items()}
    return ids, Crowns(east_m=arr["e"], north_m=arr["n"], top_m=arr["top"],
                       base_m=arr["base"], radius_m=arr["r"], cone=arr["cone"] > 0), skipped


def _periods(path: SunPath, mask: NDArray[Any], tz: ZoneInfo) -> tuple[tuple[str, str], ...]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    def hhmm(i: int) -> str:
        ms = int(path.times_ms[min(i, len(path.times_ms) - 1)])
        return dt.datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M")
    return tuple((hhmm(int(a)), hhmm(int(b))) for a, b in zip(edges[::2], edges[1::2],
                                                              strict=True))


def check_window(session: Session, window: Window, *, year: int | None = None,
                 date: dt.date | None = None, threshold_h: float = DEFAULT_THRESHOLD_H,
                 radius_m: float = 50.0, step_s: int = 60, min_elevation_deg: float = 0.0,
                 solar_hours: tuple[float, float] | None = None, open_tasks: bool = False,
                 by: str = "sunlight-check", now_ms: int | None = None) -> SunlightResult:
    """Hours of direct sun at ``window`` on the winter solstice, and what to prune."""
    site = session.get(Site, window.site)
    tz_name = site.tz if site is not None else "UTC"
    tz = ZoneInfo(tz_name)
    if date is None:
        date = winter_solstice(year or dt.datetime.now(tz).year, window.lat)
    if site is None:
        raise NotFoundError(f"site '{window.site}' not found")
    path = sun_path(window.lat, window.lon, date, step_s)
    counted = None
    if solar_hours is not None:
        h = (path.times_ms - path.times_ms[0]) / 3_600_000  # local mean solar time [h]
        counted = (h >= solar_hours[0]) & (h < solar_hours[1])
    ids, crowns, skipped = crowns_near(session, window, radius_m)
    sun, blocked = sunlight_hours(path, height_m=window.height_m, facing_deg=window.facing_deg,
                                  crowns=crowns, min_elevation_deg=min_elevation_deg,
                                  counted=counted)
    hours = step_s / 3600
    direct = sun & ~blocked.any(axis=0) if ids else sun
    need = math.ceil(threshold_h / hours - 1e-9)
    prune_idx = plan_pruning(sun, blocked, need) if int(direct.sum()) < need else []
    keep = [i for i in range(len(ids)) if i not in prune_idx]
    restored = sun & ~blocked[keep].any(axis=0) if keep else sun
    result = SunlightResult(
        window=window, date=date, threshold_h=threshold_h,
        open_sky_h=round(float(sun.sum()) * hours, 3),
        direct_h=round(float(direct.sum()) * hours, 3),
        blocked_h={t: round(float(blocked[i].sum()) * hours, 3) for i, t in enumerate(ids)
                   if blocked[i].any()},
        prune=tuple(ids[i] for i in prune_idx),
        restored_h=round(float(restored.sum()) * hours, 3),
        skipped=skipped, sunny_periods=_periods(path, direct, tz))
    if not open_tasks or not result.prune:
        return result
    task_ids = []
    for tree in result.prune:
        task, _created = ensure_task(
            session, site=window.site, kind="prune", priority=3, tree=tree,
            title=f"prune tree {tree}: winter sunlight of {window.name}",
            reason=(f"{window.name} gets {result.direct_h:.2f} h of direct sun on "
                    f"{date.isoformat()} (needs {threshold_h:.2f} h); tree {tree} shadows it "
                    f"for {result.blocked_h.get(tree, 0):.2f} h; after pruning "
                    f"{', '.join(result.prune)}: {result.restored_h:.2f} h"),
            dedup_key=f"sunlight:{window.site}:{tree}", by=by, now_ms=now_ms,
            source_event={"sunlight": result.as_dict()})
        task_ids.append(task.id)
    return dataclasses.replace(result, task_ids=tuple(task_ids))
