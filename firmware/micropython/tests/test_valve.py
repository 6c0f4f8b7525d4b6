"""Valve node logic on the simulated HAL: boot close, commands, duplicates, own timer."""

import json
import time

from check import eq

from app.valve import ValveApp
from hal.unix import UnixHal
from lib.log import Logger
from lib.store import Seq, read_json


def _make(tmp, cap_s=1800):
    cfg = {"state_dir": tmp, "sim": {}, "max_run_s": cap_s}
    hal = UnixHal(cfg)
    events = []
    app = ValveApp(hal, cfg, Logger("t", "error"), Seq(tmp + "/seq"),
                   lambda ch, p: events.append(json.loads(p)))
    return hal, app, events


def _cmd(hal, cid, op="open", run_s=60, deadline_in_ms=60000):
    now = hal.clock_ms()
    c = {"v": 1, "id": cid, "ts_ms": now, "deadline_ms": now + deadline_in_ms, "op": op}
    if run_s is not None:
        c["max_run_s"] = run_s
    return json.dumps(c).encode()


def _pin(tmp):
    return read_json(tmp + "/hal.json")["valve_open"]


def test_boot_forces_closed_and_reports_cut_run(tmp):
    hal, app, events = _make(tmp)
    app.boot()
    eq(_pin(tmp), False, "pin low")
    eq([(e["state"], e["cause"]) for e in events], [("closed", "boot")], "boot event")
    app.on_cmd(_cmd(hal, "c1"))
    eq(_pin(tmp), True, "open")
    _, app2, events2 = _make(tmp)  # a reset while open
    app2.boot()
    eq(_pin(tmp), False, "closed again at boot")
    eq((events2[0]["cause"], events2[0]["cmd_id"]), ("boot", "c1"), "the cut run is named")


def test_open_ack_event_and_close_by_command(tmp):
    hal, app, events = _make(tmp)
    app.boot()
    ack = json.loads(app.on_cmd(_cmd(hal, "c1", run_s=60)))
    eq((ack["id"], ack["ok"], ack["state"]), ("c1", True, "open"), "ack")
    eq((events[-1]["state"], events[-1]["cause"], events[-1]["cmd_id"]), ("open", "cmd", "c1"),
       "open event")
    ack = json.loads(app.on_cmd(_cmd(hal, "c2", op="close", run_s=None)))
    eq((ack["ok"], ack["state"]), (True, "closed"), "close ack")
    eq((events[-1]["state"], events[-1]["cause"], events[-1]["cmd_id"]),
       ("closed", "cmd", "c2"), "close event")
    eq(_pin(tmp), False, "pin")
    seqs = [events[0]["seq"], events[1]["seq"], ack["seq"]]
    eq(seqs == sorted(seqs) and len(set(seqs)) == 3, True, "seq increments")


def test_duplicate_acked_again_not_acted_twice_even_after_reset(tmp):
    hal, app, events = _make(tmp)
    app.boot()
    first = app.on_cmd(_cmd(hal, "c1"))
    n = len(events)
    eq(app.on_cmd(_cmd(hal, "c1")), first, "same ack again")
    eq(len(events), n, "no second open event")
    _, app2, _ = _make(tmp)
    app2.boot()
    eq(app2.on_cmd(_cmd(hal, "c1")), first, "remembered across a reset")
    eq(_pin(tmp), False, "a redelivered open does not reopen after the reset")


def test_expired_command_refused(tmp):
    hal, app, events = _make(tmp)
    app.boot()
    ack = json.loads(app.on_cmd(_cmd(hal, "old", deadline_in_ms=-1000)))
    eq((ack["ok"], ack["reason"], ack["state"]), (False, "expired", "closed"), "refused")
    eq(len(events), 1, "no valve event")
    eq(_pin(tmp), False, "stays closed")


def test_closes_itself_at_min_of_run_and_cap(tmp):
    hal, app, events = _make(tmp, cap_s=1)
    app.boot()
    t0 = time.ticks_ms()
    app.on_cmd(_cmd(hal, "c9", run_s=3600))
    while app.is_open:
        app.tick()
        if time.ticks_diff(time.ticks_ms(), t0) > 3000:
            raise AssertionError("valve still open after 3 s with a 1 s cap")
        time.sleep_ms(5)
    took = time.ticks_diff(time.ticks_ms(), t0)
    if not 1000 <= took < 1500:
        raise AssertionError("closed after %d ms, want 1000" % took)
    e = events[-1]
    eq((e["state"], e["cause"], e["cmd_id"]), ("closed", "max_run", "c9"), "event")
    if not 1.0 <= e["open_s"] < 1.5:
        raise AssertionError("open_s %r" % e["open_s"])
    eq(_pin(tmp), False, "pin")
