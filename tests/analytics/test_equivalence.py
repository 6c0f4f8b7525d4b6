"""The fast paths change no event: incremental engines against the reference.

An engine normally skips work whose inputs did not change since its last tick (health results
of devices without new readings, windy flags already set) and sorts only the columns a median
uses. ``incremental=False`` recomputes every row at every tick. Randomized estates from the
simulator (storms, yields, failures, moved sensors, bursts, late, lost and redelivered
readings, a frozen node, soil probes, a last will) go through both, with different block
sizes; every event and every tick's tree and zone state must be identical.
"""

from __future__ import annotations

import pytest

from greeniot.analytics.engine import AnalyticsEngine
from tests.analytics.estate_replay import replay


@pytest.mark.timeout(900)  # two 4-day estates, tick by tick
@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_engine_says_what_the_reference_says(seed: int) -> None:
    fast = replay(lambda ctx: AnalyticsEngine(ctx, chunk_rows=7), seed, tick_s=600.0)
    ref = replay(lambda ctx: AnalyticsEngine(ctx, incremental=False), seed, tick_s=600.0)
    kinds = {e.kind for _, e in ref.events}
    # the estate exercises the detectors the fast paths touch
    assert {"lean_step", "lean_storm", "mount_moved", "device_offline", "sensor_stuck",
            "storm"} <= kinds, kinds
    assert len(fast.events) == len(ref.events)
    for (t_a, a), (t_b, b) in zip(fast.events, ref.events, strict=True):
        assert (t_a, a) == (t_b, b)
    assert len(fast.states) == len(ref.states)
    for (t, a), (_, b) in zip(fast.states, ref.states, strict=True):
        assert a == b, f"state differs at tick {t}"
