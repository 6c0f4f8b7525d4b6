"""Per-device clock judgement and the site clock (median of device clocks)."""

from __future__ import annotations

from greeniot.protocol.messages import TS_MIN_MS
from greeniot.runtime.eventclock import DeviceClocks, SiteClock

NOW = 1_790_000_000_000
MIN = 60_000


def clocks() -> DeviceClocks:
    return DeviceClocks(bound_ms=300_000, max_age_ms=400 * 86_400_000, live_span_ms=30 * MIN,
                        recover_readings=3, site_bound_ms=30 * MIN)


def test_site_clock_is_the_median_so_one_wrong_clock_moves_nobody() -> None:
    site = SiteClock(idle_s=30)
    for i in range(5):
        site.observe(f"d{i}", NOW + i * 1000, NOW)
    site.observe("jumper", NOW + 3_600_000, NOW)  # one probe an hour ahead
    assert NOW <= site.now(NOW) <= NOW + 5000
    site.observe("d0", NOW - 10 * MIN, NOW)  # a late reading does not move it back
    assert site.now(NOW) >= NOW


def test_a_silent_site_goes_on_with_wall_time() -> None:
    site = SiteClock(idle_s=30)
    for i in range(3):
        site.observe(f"d{i}", NOW, NOW)
    assert site.now(NOW + 20_000) == NOW  # short silence: event time stands still
    assert site.now(NOW + 90_000) == NOW + 60_000  # gateway dead: wall time, after idle_s


def test_clock_ahead_reset_and_jump_back_are_faults_judged_by_receive_time() -> None:
    c = clocks()
    ok = c.judge("s", "a", NOW - 1000, NOW, seq=1)
    assert (ok.ts_ms, ok.fault, ok.changed) == (NOW - 1000, None, False)
    ahead = c.judge("s", "a", NOW + 3_600_000, NOW + 60_000, seq=2, site_now_ms=NOW + 59_000)
    assert ahead.fault and "ahead" in ahead.fault and ahead.changed
    assert ahead.ts_ms == NOW + 59_000  # the site's time at receipt, not the device's
    reset = c.judge("s", "b", TS_MIN_MS + 5000, NOW, seq=7)
    assert reset.fault and "2000-01-01" in reset.fault
    c.judge("s", "c", NOW, NOW, seq=1)
    back = c.judge("s", "c", NOW - 3_600_000, NOW + MIN, seq=2)
    assert back.fault and "back" in back.fault


def test_a_fault_recovers_after_good_readings_in_a_row() -> None:
    c = clocks()
    c.judge("s", "a", NOW + 3_600_000, NOW, seq=1)
    states = [c.judge("s", "a", NOW + i * MIN, NOW + i * MIN, seq=1 + i) for i in range(1, 5)]
    assert [v.fault is None for v in states] == [False, False, True, True]
    assert [v.changed for v in states] == [False, False, True, False]
    assert states[3].ts_ms == NOW + 4 * MIN  # its own time again


def test_backlog_lag_is_not_a_fault_but_a_slow_clock_is() -> None:
    c = clocks()
    # six hours of backlog received within a few seconds: old, not wrong
    for i in range(72):
        v = c.judge("s", "gw", NOW - 6 * 3_600_000 + i * 5 * MIN, NOW + i * 50, seq=i)
        assert v.fault is None
    # a clock 20 min slow, reading every 5 min for an hour: wrong
    faults = [c.judge("s", "slow", NOW + i * 5 * MIN - 20 * MIN, NOW + i * 5 * MIN, seq=i).fault
              for i in range(12)]
    assert faults[0] is None and faults[-1] is not None and "behind" in faults[-1]


def test_only_listed_devices_set_the_site_clock_and_its_reference() -> None:
    site = SiteClock(idle_s=30, listed=frozenset(f"d{i}" for i in range(5)))
    for i in range(12):  # more unlisted nodes than listed ones, an hour ahead
        site.observe(f"junk-{i}", NOW + 3_600_000, NOW)
    assert site.reference() == 0  # no listed device heard: nothing to compare with
    for i in range(5):
        site.observe(f"d{i}", NOW + i * 1000, NOW)
    assert NOW <= site.now(NOW) <= NOW + 5000
    assert NOW <= site.reference() <= NOW + 5000
    unlisted = SiteClock(idle_s=30)  # the registry lists nothing: every device votes
    for i in range(12):
        unlisted.observe(f"junk-{i}", NOW + 3_600_000, NOW)
    for i in range(5):
        unlisted.observe(f"d{i}", NOW + i * 1000, NOW)
    assert unlisted.now(NOW) == NOW + 3_600_000


def test_a_site_whose_listed_devices_stay_silent_goes_on_with_the_others() -> None:
    site = SiteClock(idle_s=30, listed=frozenset({"d0", "d1"}))
    for i in range(4):
        site.observe(f"other-{i}", NOW, NOW)
    assert site.now(NOW + 10_000) == 0  # starting: waiting for the listed devices
    for i in range(4):
        site.observe(f"other-{i}", NOW + 31_000, NOW + 31_000)
    assert site.now(NOW + 31_000) == NOW + 31_000  # they never came: the others set it
