"""The vectorized sweep ranks exactly as scoring tree by tree does.

The reference below is the per-tree loop ``rank_trees`` was before it was vectorized: the same
points, summed term by term, then sorted by (score, site, tree). Random estates cover what the
loop handled case by case: unsensored trees, devices bound to no tree, two devices on one tree,
moved sensors, NaN and infinite leans, storm offsets, missing heights, wet sites, one site.
"""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.actions import sweeps
from greeniot.actions.sweeps import SweepItem, rank_trees
from greeniot.analytics.contract import TreeRiskState
from greeniot.estate import EstateContext, TreeInfo


def reference(ctx: EstateContext, trees: TreeRiskState | None, *, site: str | None = None,
              wet_sites: frozenset[str] = frozenset()) -> list[SweepItem]:
    sensed: dict[tuple[str, str], tuple[int, float, float]] = {}
    if trees is not None and len(trees):
        lvl = trees.risk_level()
        for i in range(len(trees)):
            if trees.tree[i] is None:
                continue
            moved = trees.mount_level[i] > 0
            lean = 0.0 if moved else float(np.nan_to_num(trees.lean_deg[i]))
            storm = 0.0 if moved else float(np.nan_to_num(trees.storm_offset_deg[i]))
            sensed[(str(trees.site[i]), str(trees.tree[i]))] = (0 if moved else int(lvl[i]),
                                                                lean, storm)
    out = []
    for t in ctx.trees:
        if site is not None and t.site != site:
            continue
        level, lean, storm = sensed.get((t.site, t.tree), (0, 0.0, 0.0))
        reasons = []
        score = sweeps.LEVEL_POINTS * level
        if level:
            reasons.append(f"sensor level {level}")
        moved_deg = max(lean, storm, 0.0)
        score += sweeps.LEAN_POINTS_PER_DEG * min(moved_deg, 5.0)
        if moved_deg >= 0.05:
            reasons.append(f"lean {moved_deg:.2f} deg")
        if t.height_m:
            score += sweeps.HEIGHT_POINTS_PER_M * t.height_m
            reasons.append(f"height {t.height_m:.0f} m")
        if t.heritage:
            score += sweeps.HERITAGE_POINTS
            reasons.append("heritage")
        if t.site in wet_sites:
            score += sweeps.WET_POINTS
            reasons.append("wet ground")
        out.append(SweepItem(t.site, t.tree, score, level, (t.site, t.tree) in sensed,
                             t.heritage, tuple(reasons)))
    out.sort(key=lambda it: (-it.score, it.site, it.tree))
    return out


def estate(seed: int, n: int = 400) -> tuple[EstateContext, TreeRiskState]:
    rng = np.random.default_rng(seed)
    sites = np.array([f"s{k}" for k in rng.integers(0, 3, n)], dtype=object)
    names = [f"t{i:03d}" for i in range(n)]
    heights = rng.choice([0.0, 6.0, 12.0, 18.5, 25.0], n)  # few values: many exact ties
    ctx = EstateContext(trees=tuple(
        TreeInfo(str(sites[i]), names[i], heritage=bool(rng.random() < 0.1),
                 height_m=None if rng.random() < 0.2 else float(heights[i]))
        for i in range(n)))
    dev = rng.choice(n, int(0.7 * n))  # some trees twice, some not at all
    tree = np.array([names[i] if rng.random() > 0.05 else None for i in dev], dtype=object)
    m = dev.size

    def lv() -> np.ndarray:
        return rng.choice([0, 0, 0, 1, 2, 3], m).astype(np.int8)

    lean = rng.choice([0.0, 0.03, 0.3, 1.2, 7.0, np.nan, np.inf], m)
    state = TreeRiskState(
        ts_ms=1, site=sites[dev], device=np.array([f"d{i}" for i in range(m)], dtype=object),
        tree=tree, heritage=np.zeros(m, bool), baseline_ok=np.ones(m, bool), lean_deg=lean,
        lean_level=lv(), step_level=lv(), trend_level=lv(), failure_level=lv(),
        storm_level=lv(), storm_offset_deg=rng.choice([np.nan, 0.0, 0.6, 2.0], m),
        compliance=np.full(m, np.nan), mount_level=rng.choice([0, 0, 0, 2], m).astype(np.int8))
    return ctx, state


@pytest.mark.parametrize("seed", range(6))
def test_rank_trees_matches_the_per_tree_loop(seed: int) -> None:
    ctx, state = estate(seed)
    for kw in ({}, {"site": "s1"}, {"wet_sites": frozenset({"s2"})}):
        got = rank_trees(ctx, state, **kw)  # type: ignore[arg-type]
        assert got == reference(ctx, state, **kw)  # type: ignore[arg-type]
    assert rank_trees(ctx, None) == reference(ctx, None)
    assert rank_trees(ctx, TreeRiskState(1)) == reference(ctx, TreeRiskState(1))
