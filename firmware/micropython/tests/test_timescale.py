"""The unix HAL's time scale: the node's clocks run N x real time from a given start."""

import sys
import time

from check import eq, near, raises

import config
from hal.unix import UnixHal
from lib.store import read_json

START = 1_790_000_000_000  # what the scaled clock reads at its origin [ms UTC]


def _scaled(tmp, scale=1000.0, **cfg):
    """A scaled HAL; sys.modules is put back, so the other tests keep the real clock."""
    before = {name: sys.modules.get(name) for name in ("time", "select")}
    try:
        return UnixHal(dict({"state_dir": tmp, "time_scale": scale}, **cfg))
    finally:
        for name in before:
            if before[name] is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before[name]


def test_scale_one_is_the_real_clock(tmp):
    hal = UnixHal({"state_dir": tmp})
    eq(hal.time is time, True, "real time module")
    near(hal.clock_ms(), time.time_ns() // 1_000_000, 50, "real UTC")
    eq(read_json(tmp + "/clock.json", None), None, "nothing persisted at scale 1")


def test_scaled_clock_runs_n_times_faster_from_its_start(tmp):
    origin = time.time_ns() // 1_000_000
    hal = _scaled(tmp, 1000.0, time_origin_ms=origin, time_start_ms=START)
    clk = hal.time
    near(hal.clock_ms(), START + 1000 * (time.time_ns() // 1_000_000 - origin), 2000, "UTC")
    t0, r0, u0 = clk.ticks_ms(), time.ticks_ms(), hal.clock_ms()
    time.sleep_ms(30)  # real
    real = time.ticks_diff(time.ticks_ms(), r0)
    near(clk.ticks_diff(clk.ticks_ms(), t0), 1000 * real, 2000, "ticks x1000")
    near(hal.clock_ms() - u0, 1000 * real, 2000, "UTC x1000")
    r0 = time.ticks_ms()
    clk.sleep_ms(20_000)  # 20 s on the node's clock: 20 ms real
    near(time.ticks_diff(time.ticks_ms(), r0), 20, 10, "sleep / 1000")


def test_scaled_poll_waits_scaled_timeouts_at_least_a_real_ms(tmp):
    hal = _scaled(tmp, 1000.0)
    clk = hal.time
    eq([clk.real_ms(v) for v in (-1, 0, 1, 499, 30_000)], [-1, 0, 1, 1, 30], "real waits")
    import select as real_select

    from hal.scaled import ScaledSelect

    sel = ScaledSelect(real_select, clk)
    eq(sel.POLLIN, real_select.POLLIN, "constants are the real ones")
    p = sel.poll()
    r0 = time.ticks_ms()
    eq(p.poll(40_000), [], "nothing registered: times out")  # 40 s node time = 40 ms
    near(time.ticks_diff(time.ticks_ms(), r0), 40, 20, "poll timeout / 1000")


def test_the_scaled_clock_survives_a_deep_sleep(tmp):
    hal = _scaled(tmp, 500.0, time_start_ms=START)
    saved = read_json(tmp + "/clock.json")
    eq((saved["scale"], saved["start_ms"]), (500.0, START), "persisted at first boot")
    first = hal.clock_ms()
    time.sleep_ms(20)
    again = _scaled(tmp, 500.0, time_start_ms=START)  # the process restarted ("woke")
    eq(read_json(tmp + "/clock.json"), saved, "same origin")
    went_on = again.clock_ms() - first  # >= 10 ms real x 500, not back to START
    eq(500 * 10 <= went_on < 500 * 1000, True, "the clock went on, not restarted: %d" % went_on)


def test_config_refuses_a_bad_or_misplaced_scale(tmp):
    raises(ValueError, config.merge, {"time_scale": 0})
    raises(ValueError, config.merge, {"hal": "esp32", "time_scale": 100.0})
    eq(config.merge({"time_scale": 100.0})["time_scale"], 100.0, "unix takes it")
