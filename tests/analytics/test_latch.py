"""Latching: once per onset or escalation, hysteresis, re-arm, unknown keeps state."""

from __future__ import annotations

import numpy as np

from greeniot.analytics.core.latch import Latches, grade, graded, latch

TH = np.array([0.25, 0.9, 1.6])


def test_grade_levels_and_nan() -> None:
    assert grade(np.array([0.1, 0.25, 1.0, 2.0, np.nan]), TH).tolist() == [0, 1, 2, 3, 0]
    per_row = np.array([[1.0, 2.0, 3.0], [0.1, 0.2, 0.3]])
    assert grade(np.array([0.5, 0.5]), per_row).tolist() == [0, 3]


def test_one_event_per_onset_and_escalation() -> None:
    values = [0.1, 0.3, 0.3, 0.31, 0.29, 1.0, 1.0, 0.95, 0.5]
    active = np.zeros(1, np.int8)
    fired = []
    for v in values:
        on, hold, known = graded(np.array([v]), TH, 0.8)
        active, emit = latch(active, on, hold, known)
        fired.append(int(active[0]) if emit[0] else 0)
    assert fired == [0, 1, 0, 0, 0, 2, 0, 0, 0]
    assert active[0] == 1  # 0.5 is below warning's 0.72 band but above watch's 0.2


def test_rearms_after_clearing_below_hysteresis() -> None:
    active = np.zeros(1, np.int8)
    fired = 0
    for v in [0.3, 0.21, 0.3, 0.19, 0.3]:  # 0.21 stays within the band, 0.19 clears
        on, hold, known = graded(np.array([v]), TH, 0.8)
        active, emit = latch(active, on, hold, known)
        fired += int(emit[0])
    assert fired == 2


def test_unknown_keeps_the_level() -> None:
    active = np.array([2], np.int8)
    on, hold, known = graded(np.array([np.nan]), TH, 0.8)
    active, emit = latch(active, on, hold, known)
    assert active[0] == 2 and not emit[0]


def test_latches_grow_with_rows_and_blocks() -> None:
    lt = Latches()
    first = lt.update("x", np.array([2, 0], np.int8), np.array([2, 0], np.int8))
    assert first.tolist() == [True, False]
    emit = lt.update("x", np.array([2, 3], np.int8), np.array([2, 3], np.int8), rows=slice(1, 3))
    assert emit.tolist() == [True, True]
    assert lt.level("x", 3).tolist() == [2, 2, 3]
    lt.reset("x", np.array([2]))
    assert lt.level("x", 3).tolist() == [2, 2, 0]
