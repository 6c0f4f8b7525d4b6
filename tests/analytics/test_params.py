"""Threshold sets: named, ordered, heritage stricter, unknown names listed."""

from __future__ import annotations

import pytest

from greeniot.analytics.params import (
    HEALTH_PARAMS,
    SOIL_PARAMS,
    STORM_PARAMS,
    SWAY_PARAMS,
    TILT_PARAMS,
    AnalyticsParams,
    Grades,
)


def test_unknown_set_lists_valid_names() -> None:
    with pytest.raises(KeyError,
                       match="unknown tilt parameter set 'ancient'; valid: heritage, standard"):
        TILT_PARAMS["ancient"]
    with pytest.raises(KeyError, match="valid: default"):
        SOIL_PARAMS["sandy"]


def test_heritage_is_stricter_at_every_grade_but_failure() -> None:
    std, her = TILT_PARAMS["standard"], TILT_PARAMS["heritage"]
    for name in ("lean_deg", "step_deg", "trend_deg_per_day"):
        for s, h in zip(getattr(std, name).as_tuple(), getattr(her, name).as_tuple(), strict=True):
            assert h < s, name
    assert her.failure_deg == std.failure_deg


def test_standard_lean_grades_are_the_documented_anchors() -> None:
    std = TILT_PARAMS["standard"]
    assert std.lean_deg.as_tuple() == (0.25, 0.9, 1.6)  # [SAG], [James2013], [Dundee]
    assert std.failure_deg > 2.9  # beyond the maximum-moment range [Dundee]


def test_grades_must_ascend() -> None:
    with pytest.raises(ValueError, match="ascend"):
        Grades(1.0, 0.5, 2.0)


def test_storm_thresholds_follow_beaufort_and_have_hysteresis() -> None:
    p = STORM_PARAMS["default"]
    assert (p.windy_ms, p.end_ms, p.onset_ms, p.severe_ms) == (8.0, 10.8, 17.2, 24.5)
    assert p.end_ms < p.onset_ms


def test_bundle_defaults() -> None:
    b = AnalyticsParams()
    assert b.tilt is TILT_PARAMS["standard"] and b.heritage_tilt is TILT_PARAMS["heritage"]
    assert b.sway is SWAY_PARAMS["default"] and b.health is HEALTH_PARAMS["default"]
    assert set(TILT_PARAMS) == {"standard", "heritage"} and len(TILT_PARAMS) == 2
