"""Hand-checkable geometry of the sunlight check, independent of pvlib where possible.

On the winter solstice the sun's declination is δ ≈ -23.44°. From latitude φ:

- the day (sun's centre above the geometric horizon) lasts 2·acos(-tan φ tan δ)/15° hours;
  refraction (~0.57° at the horizon, which pvlib's apparent elevation includes) lengthens it by
  a few minutes at each end;
- at solar noon the sun stands at 90° - φ + δ, due south;
- the sun moves along its daily circle at 15°·cos δ per hour, so a sphere of radius r whose
  centre, at distance L, lies on the sun's noon direction shadows the window for
  2·asin(r/L)/(15·cos δ) hours (the daily circle is nearly a great circle near the centre).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from greeniot.sunlight import Crowns, sun_path, sunlight_hours, winter_solstice
from greeniot.sunlight.check import plan_pruning

LAT, LON = 31.23, 121.47  # Shanghai
DECL = -23.44
YEAR = 2026


def crowns(rows: list[tuple[float, float, float, float, float, bool]]) -> Crowns:
    """(east, north, top, base, radius, cone) per crown."""
    col = [np.array([r[i] for r in rows], dtype=float) for i in range(5)]
    return Crowns(*col, cone=np.array([r[5] for r in rows], dtype=bool))


@pytest.fixture(scope="module")
def path():  # type: ignore[no-untyped-def]
    day = winter_solstice(YEAR, LAT)
    assert day in (dt.date(YEAR, 12, 21), dt.date(YEAR, 12, 22))
    return sun_path(LAT, LON, day, step_s=30)


def hours(mask: np.ndarray, step_s: int = 30) -> float:
    return float(mask.sum()) * step_s / 3600


def test_open_sky_day_length_matches_the_textbook_formula(path) -> None:  # type: ignore[no-untyped-def]
    sun, _ = sunlight_hours(path, height_m=1.5, facing_deg=180.0, crowns=crowns([]))
    day_h = 2 * math.degrees(math.acos(-math.tan(math.radians(LAT)) *
                                       math.tan(math.radians(DECL)))) / 15
    assert day_h == pytest.approx(9.97, abs=0.01)
    # refraction (0.57° at the horizon) lifts the sun earlier and sets it later: ~5 min more
    assert day_h < hours(sun) < day_h + 0.2
    # An east-facing window sees the sun only before solar noon: half of the day.
    east, _ = sunlight_hours(path, height_m=1.5, facing_deg=90.0, crowns=crowns([]))
    assert hours(east) == pytest.approx(hours(sun) / 2, abs=0.02)
    # The noon elevation is 90 - φ + δ.
    assert path.elevation_deg.max() == pytest.approx(90 - LAT + DECL, abs=0.1)


def test_sphere_due_south_on_the_noon_ray_shades_for_the_computed_time(path) -> None:  # type: ignore[no-untyped-def]
    noon_el = 90 - LAT + DECL  # 35.33°
    d, r, h_w = 10.0, 3.0, 1.5
    z = h_w + d * math.tan(math.radians(noon_el))  # crown centre on the noon ray
    ball = crowns([(0.0, -d, z + r, z - r, r, False)])  # due south: north = -d
    _sun, blocked = sunlight_hours(path, height_m=h_w, facing_deg=180.0, crowns=ball)
    big_l = math.hypot(d, z - h_w)
    expected = 2 * math.degrees(math.asin(r / big_l)) / (15 * math.cos(math.radians(DECL)))
    assert expected == pytest.approx(2.06, abs=0.01)
    assert hours(blocked[0]) == pytest.approx(expected, abs=0.05)
    # The shadow is centred on solar noon: the noon sample is shadowed.
    assert blocked[0][int(np.argmax(path.elevation_deg))]
    # The same crown 2 m lower: the noon ray passes 1 m under its top, off-centre, so the
    # shadow is shorter than through the centre.
    lower = crowns([(0.0, -d, z + r - 2, z - r - 2, r, False)])
    _, blocked_lower = sunlight_hours(path, height_m=h_w, facing_deg=180.0, crowns=lower)
    assert 0 < hours(blocked_lower[0]) < hours(blocked[0])


def test_cone_and_a_tree_behind_the_window_or_too_low(path) -> None:  # type: ignore[no-untyped-def]
    noon_el = 90 - LAT + DECL
    d = 10.0
    z = 1.5 + d * math.tan(math.radians(noon_el))
    trees = crowns([
        (0.0, -d, z + 4.0, z - 4.0, 3.0, True),  # cone spanning the noon ray
        (0.0, +d, 20.0, 2.0, 5.0, False),  # north of a south-facing window: never in front
        (0.0, -d, 2.0, 0.5, 3.0, False),  # a shrub south: below every ray of the day
    ])
    _, blocked = sunlight_hours(path, height_m=1.5, facing_deg=180.0, crowns=trees)
    # At the noon ray the cone's radius is half its base radius (halfway up): 1.5 m at ~12.2 m.
    half = math.degrees(math.asin(1.5 / math.hypot(d, z - 1.5)))
    assert hours(blocked[0]) > 2 * half / 15  # at least the horizontal chord at that height
    assert blocked[0][int(np.argmax(path.elevation_deg))]
    assert hours(blocked[1]) == 0
    assert hours(blocked[2]) == 0


def test_plan_pruning_picks_the_fewest_crowns_greedily() -> None:
    sun = np.array([True] * 10)
    blocked = np.array([
        [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],  # big shadow
        [0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ], dtype=bool)
    assert plan_pruning(sun, blocked, need=6) == [0]  # 10 - 3 - 1 sunny without crown 0
    assert plan_pruning(sun, blocked, need=7) == [0, 1]
    assert plan_pruning(sun, blocked, need=1) == []  # one sunny sample (8) is enough
    assert plan_pruning(sun, blocked, need=11) == []  # impossible even without trees
