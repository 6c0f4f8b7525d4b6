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
    """Every tree of ``site`` (or of the estate), highest risk first (ties by tree id)."""
    sensed: dict[tuple[str, str], tuple[int, float, float]] = {}
    if trees is not None and len(trees):
        lvl = trees.risk_level()
        mount = (trees.mount_level if trees.mount_level.size == len(trees)
                 else np.zeros(len(trees), np.int8))
        off = (trees.storm_offset_deg if trees.storm_offset_deg.size == len(trees)
               else np.full(len(trees), np.nan))
        for i in range(len(trees)):
            if trees.tree[i] is None:
                continue
            key = (str(trees.site[i]), str(trees.tree[i]))
            moved = mount[i] > 0  # a moved sensor says nothing about the tree
            lean = 0.0 if moved else float(np.nan_to_num(trees.lean_deg[i]))
            storm = 0.0 if moved else float(np.nan_to_num(off[i]))
            sensed[key] = (0 if moved else int(lvl[i]), lean, storm)
    out: list[SweepItem] = []
    for t in ctx.trees:
        if site is not None and t.site != site:
            continue
        level, lean, storm = sensed.get((t.site, t.tree), (0, 0.0, 0.0))
        reasons = []
        score = LEVEL_POINTS * level
        if level:
            reasons.append(f"sensor level {level}")
        moved_deg = max(lean, storm, 0.0)
        score += LEAN_POINTS_PER_DEG * min(moved_deg, 5.0)
        if moved_deg >= 0.05:
            reasons.append(f"lean {moved_deg:.2f} deg")
        if t.height_m:
            score += HEIGHT_POINTS_PER_M * t.height_m
            reasons.append(f"height {t.height_m:.0f} m")
        if t.heritage:
            score += HERITAGE_POINTS
            reasons.append("heritage")
        if t.site in wet_sites:
            score += WET_POINTS
            reasons.append("wet ground")
        out.append(SweepItem(t.site, t.tree, score, level, (t.site, t.tree) in sensed,
                             t.heritage, tuple(reasons)))
    out.sort(key=lambda it: (-it.score, it.site, it.tree))
    return out
