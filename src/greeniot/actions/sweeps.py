"""Estate-wide sweeps before and after a storm: every tree, ranked by risk. Pure.

Estate rules ask for emergency handling before and after typhoons (docs/domain.md): before,
inspect and stake what is most likely to fail; after, inspect every tree, worst first. A sweep
covers sensored and unsensored trees alike. The risk score, highest first:

- what the sensors say, for sensored trees (:class:`TreeRiskState`): the worst latched lean
  level (failure counts as critical), the calm residual lean and the storm-time non-elastic
  offset [deg] — a tree that moved is inspected before one that did not, whatever else;
- exposure and consequence, for every tree: height (wind load grows with crown height and
  area), heritage (the estate's rules protect them first), and wet ground (the 1.6–2.9°
  overturning range was found on partially saturated soil; saturated soil anchors less
  [Dundee], see :mod:`greeniot.analytics.params`).

Weights are a project choice: the sensor terms dominate (a level is worth more than any
exposure term), so a leaning tree always ranks above a healthy one; among healthy trees tall,
heritage and wet-ground trees come first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.contract import TreeRiskState
from greeniot.estate import EstateContext

#: Points per term (project choice, see the module docstring).
LEVEL_POINTS = 100.0
LEAN_POINTS_PER_DEG = 20.0
HEIGHT_POINTS_PER_M = 0.5
HERITAGE_POINTS = 8.0
WET_POINTS = 4.0
#: A forecast at or above Beaufort 8 (gale, 17.2 m/s mean) or a tropical cyclone signal of 8
#: or more (Hong Kong Observatory: gale or storm force winds) triggers the pre-storm sweep.
SWEEP_WIND_MS = 17.2
SWEEP_SIGNAL = 8


@dataclass(frozen=True, slots=True)
class StormForecast:
    """The minimal forecast input a pre-storm sweep needs, per site.

    ``max_wind_ms``: the highest 10-min mean wind forecast for the coming hours [m/s];
    ``signal``: a tropical cyclone warning signal number, where the weather service issues one.
    """

    site: str
    ts_ms: int
    max_wind_ms: float | None = None
    signal: int | None = None

    @property
    def triggers(self) -> bool:
        return ((self.max_wind_ms is not None and self.max_wind_ms >= SWEEP_WIND_MS)
                or (self.signal is not None and self.signal >= SWEEP_SIGNAL))


@dataclass(frozen=True, slots=True)
class SweepItem:
    site: str
    tree: str
    score: float
    level: int  # worst sensor level (0 none or unsensored … 3 critical)
    sensored: bool
    heritage: bool
    reasons: tuple[str, ...]


def rank_trees(ctx: EstateContext, trees: TreeRiskState | None, *, site: str | None = None,
               wet_sites: frozenset[str] = frozenset()) -> list[SweepItem]:
    """Every tree of ``site`` (or of the estate), highest risk first (ties by tree id).

    Scores are computed for all trees at once (a 100k-tree estate ranks in well under a
    second); only the items and their reasons are built one by one.
    """
    sensed: dict[tuple[str, str], int] = {}
    level_s = lean_s = storm_s = np.zeros(0)
    if trees is not None and len(trees):
        n = len(trees)
        mount = trees.mount_level if trees.mount_level.size == n else np.zeros(n, np.int8)
        off = trees.storm_offset_deg if trees.storm_offset_deg.size == n else np.full(n, np.nan)
        moved = np.asarray(mount) > 0  # a moved sensor says nothing about the tree
        level_s = np.where(moved, 0, trees.risk_level()).astype(np.int64)
        lean_s = np.where(moved, 0.0, np.nan_to_num(np.asarray(trees.lean_deg, np.float64)))
        storm_s = np.where(moved, 0.0, np.nan_to_num(np.asarray(off, np.float64)))
        for i, (s_, t_) in enumerate(zip(trees.site.tolist(), trees.tree.tolist(),
                                         strict=True)):
            if t_ is not None:
                sensed[(str(s_), str(t_))] = i  # the last device of a tree wins
    chosen = [t for t in ctx.trees if site is None or t.site == site]
    idx = np.array([sensed.get((t.site, t.tree), -1) for t in chosen], np.int64)
    has = idx >= 0
    pick = np.where(has, idx, 0)
    if level_s.size:
        level = np.where(has, level_s[pick], 0)
        lean = np.where(has, lean_s[pick], 0.0)
        storm = np.where(has, storm_s[pick], 0.0)
    else:
        level = np.zeros(idx.size, np.int64)
        lean = storm = np.zeros(idx.size)
    height = np.array([t.height_m or 0.0 for t in chosen], np.float64)
    heritage = np.array([t.heritage for t in chosen], bool)
    wet = np.array([t.site in wet_sites for t in chosen], bool)
    moved_deg = np.maximum(np.maximum(lean, storm), 0.0)
    # the same sums in the same order as term by term, so equal trees tie exactly
    score = LEVEL_POINTS * level + LEAN_POINTS_PER_DEG * np.minimum(moved_deg, 5.0)
    score = score + np.where(height != 0.0, HEIGHT_POINTS_PER_M * height, 0.0)
    score = score + np.where(heritage, HERITAGE_POINTS, 0.0)
    score = score + np.where(wet, WET_POINTS, 0.0)
    order = sorted(range(len(chosen)),
                   key=lambda i: (-score[i], chosen[i].site, chosen[i].tree))
    out: list[SweepItem] = []
    lv_l, mv_l, sc_l, has_l, wet_l = (level.tolist(), moved_deg.tolist(), score.tolist(),
                                      has.tolist(), wet.tolist())
    for i in order:
        t = chosen[i]
        reasons = []
        if lv_l[i]:
            reasons.append(f"sensor level {lv_l[i]}")
        if mv_l[i] >= 0.05:
            reasons.append(f"lean {mv_l[i]:.2f} deg")
        if t.height_m:
            reasons.append(f"height {t.height_m:.0f} m")
        if t.heritage:
            reasons.append("heritage")
        if wet_l[i]:
            reasons.append("wet ground")
        out.append(SweepItem(t.site, t.tree, sc_l[i], int(lv_l[i]), has_l[i], t.heritage,
                             tuple(reasons)))
    return out
