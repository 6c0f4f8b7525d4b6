"""The flow driver's pulse counting and the valve node's flow reports (unix port)."""

import json
import time

from check import eq, near

from app.valve import ValveApp
from drivers.flow import FlowMeter, PulseCounter
from hal.unix import SimFlowPin, UnixHal
from lib.log import Logger
from lib.store import Seq, write_json


class _Guards:
    """Records that take() switched IRQs off and back on around reading the count."""

    def __init__(self):
        self.calls = []

    def off(self):
        self.calls.append("off")
        return 7

    def on(self, state):
        self.calls.append(("on", state))


def test_pulses_are_counted_by_the_irq_and_taken_once(tmp):
    pin = SimFlowPin()
    g = _Guards()
    c = PulseCounter(pin, 450, None, g.off, g.on)
    eq(pin.handler is not None, True, "the driver set the IRQ handler")
    pin.fire(900)
    eq(c.take(), 900, "pulses")
    eq(g.calls, ["off", ("on", 7)], "count read with IRQs off")
    eq(c.take(), 0, "taken once")
    pin.fire(45)
    near(c.litres(c.take()), 0.1, 1e-9, "45 pulses / 450 per litre")


def test_meter_gives_rate_per_window_and_litres_per_run(tmp):
    pin = SimFlowPin()
    m = FlowMeter(PulseCounter(pin, 450))
    pin.fire(4500)  # 10 L in a 30 s window
    rate, litres = m.sample(30000)
    near(litres, 10.0, 1e-9, "litres")
    near(rate, 20.0, 1e-9, "L/min")
    pin.fire(450)
    eq(m.restart(), 11.0, "the run's total includes pulses not yet sampled")
    eq(m.total_l, 0.0, "a new run")


def test_bad_k_factor_refused(tmp):
    try:
        PulseCounter(SimFlowPin(), 0)
    except ValueError as err:
        eq("k_per_l" in str(err), True, "names the key")
        return
    raise AssertionError("k_per_l 0 accepted")


def _valve(tmp, **sim):
    cfg = {"state_dir": tmp, "sim": sim, "max_run_s": 1800, "flow_k_per_l": 450.0,
           "flow_report_s": 0.2}
    hal = UnixHal(cfg)
    events = []
    app = ValveApp(hal, cfg, Logger("t", "error"), Seq(tmp + "/seq"),
                   lambda ch, p: events.append((ch, json.loads(p))))
    return hal, app, events


def _run(app, ms):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        app.tick()
        time.sleep_ms(5)


def _cmd(hal, cid, op, run_s=None):
    now = hal.clock_ms()
    c = {"v": 1, "id": cid, "ts_ms": now, "deadline_ms": now + 60000, "op": op}
    if run_s is not None:
        c["max_run_s"] = run_s
    return json.dumps(c).encode()


def test_valve_reports_flow_while_open_and_litres_at_close(tmp):
    hal, app, events = _valve(tmp, flow_l_min=30.0)
    app.boot()
    app.on_cmd(_cmd(hal, "c1", "open", 60))
    _run(app, 700)
    app.on_cmd(_cmd(hal, "c2", "close"))
    flows = [p for ch, p in events if ch == "flow"]
    eq(len(flows) >= 2, True, "flow readings while open: %r" % flows)
    eq(all(f["valve"] == "open" for f in flows), True, "valve state")
    for f in flows:
        near(f["flow_l_min"], 30.0, 6.0, "rate")
    close = [p for ch, p in events if ch == "valve"][-1]
    # 30 L/min for the time it was open
    near(close["flow_l"], 30.0 * close["open_s"] / 60.0, 0.15, "litres of the run")
    eq(close["flow_l"] >= flows[-1]["total_l"], True, "run total covers the readings")


def test_closed_valve_reports_only_when_it_leaks(tmp):
    hal, app, events = _valve(tmp)
    app.boot()
    _run(app, 500)
    eq([ch for ch, _ in events], ["valve"], "a dry closed valve says nothing")
    write_json(tmp + "/sim.json", {"leak_l_min": 3.0})
    hal.sim._at = None
    _run(app, 500)
    leaks = [p for ch, p in events if ch == "flow"]
    eq(len(leaks) >= 1, True, "leak reported")
    eq(leaks[-1]["valve"], "closed", "while closed")
    near(leaks[-1]["flow_l_min"], 3.0, 1.0, "leak rate")
