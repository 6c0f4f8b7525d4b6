"""Print every kind of payload the firmware builds, one ``<channel> <json>`` per line.

Built through the real code paths (apps on the simulated HAL, the outbox, the batch parts), not
hand-written, so ``tests/firmware/test_parity.py`` can check each against the backend's codec.
Usage: ``micropython -X heapsize=128k tests/payloads.py <scratch dir>``.
"""

import json
import sys

sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0] + "/..")

import config
from app.node import Node
from app.soil import SoilApp
from app.tilt import TiltApp
from app.valve import ValveApp
from hal.unix import UnixHal
from lib import proto
from lib.log import Logger
from lib.outbox import Outbox
from lib.store import Seq, makedirs, write_json

TMP = sys.argv[1]
LOG = Logger("payloads", "error")


def out(channel, payload):
    if isinstance(payload, list):
        payload = b"".join(payload)
    print(channel, payload.decode())


def cfg_for(name, **kw):
    sd = TMP + "/" + name
    makedirs(sd)
    kw["state_dir"] = sd
    return config.merge(kw)


def soil():
    cfg = cfg_for("soil", kind="soil", probe_settle_ms=0)
    hal = UnixHal(cfg)
    app = SoilApp(hal, cfg, LOG)
    seq = Seq(cfg["state_dir"] + "/seq")
    for raw, temp, bat in ((34000, 18.0, 3.9), (65535, -80.0, 20.0), (0, 17.94, 3.921)):
        write_json(cfg["state_dir"] + "/sim.json",
                   {"vwc_raw": raw, "soil_temp_c": temp, "bat_v": bat})
        hal.sim._at = None  # re-read now
        for payload in app.measure(seq.next):
            out("soil", payload)


def tilt():
    seq = Seq(TMP + "/tilt-seq")
    for chip, burst_s, pitch, roll in (("mpu6050", 1.0, 0.42, -0.11), ("adxl345", 0.0, 2.0, 1.0),
                                       ("mpu6050", 0.5, 0.0, 179.0), ("mpu6050", 0.0, -89.9, 0)):
        cfg = cfg_for("tilt-" + chip + str(burst_s), kind="tilt", burst_s=burst_s,
                      burst_hz=20.0, tilt_samples=4, burst_chunk=8,
                      sim={"accel": chip, "pitch_deg": pitch, "roll_deg": roll,
                           "sway_amp_deg": 0.3, "sway_hz": 1.0})
        hal = UnixHal(cfg)
        for payload in TiltApp(hal, cfg, LOG).measure(seq.next):
            out("tilt", payload)


def valve():
    cfg = cfg_for("valve", kind="valve", max_run_s=1)
    hal = UnixHal(cfg)
    seq = Seq(cfg["state_dir"] + "/seq")
    app = ValveApp(hal, cfg, LOG, seq, out)
    app.boot()
    now = hal.clock_ms()

    def cmd(cid, op, run_s=None, deadline=60000, **extra):
        c = {"v": 1, "id": cid, "ts_ms": now, "deadline_ms": now + deadline, "op": op}
        if run_s is not None:
            c["max_run_s"] = run_s
        c.update(extra)
        return json.dumps(c).encode()

    out("ack", app.on_cmd(cmd("c-open", "open", 600)))
    out("ack", app.on_cmd(cmd("c-open", "open", 600)))  # duplicate
    out("ack", app.on_cmd(cmd("c-close", "close")))
    out("ack", app.on_cmd(cmd("c-late", "open", 5, deadline=-1)))
    out("ack", app.on_cmd(cmd("c-bad", "flood")))
    out("ack", app.on_cmd(cmd("c-v2", "open", 5, v=2)))
    out("ack", app.on_cmd(cmd("c-open2", "open", 3600)))  # capped at 1 s
    import time

    while app.is_open:
        app.tick()
        time.sleep_ms(10)
    app2 = ValveApp(hal, cfg, LOG, seq, out)
    app2.on_cmd(cmd("c-open3", "open", 60))
    ValveApp(hal, cfg, LOG, seq, out).boot()  # a reset while open


def flow():
    """A valve with a flow meter: flow readings while open, the run's litres at close, a
    leak reading while closed."""
    import time

    cfg = cfg_for("flow", kind="valve", flow_k_per_l=450.0, flow_report_s=0.05,
                  sim={"flow_l_min": 20.0, "leak_l_min": 2.0})
    hal = UnixHal(cfg)
    seq = Seq(cfg["state_dir"] + "/seq")
    app = ValveApp(hal, cfg, LOG, seq, out)
    app.boot()
    now = hal.clock_ms()
    c = {"v": 1, "id": "c-flow", "ts_ms": now, "deadline_ms": now + 60000, "op": "open",
         "max_run_s": 1}
    out("ack", app.on_cmd(json.dumps(c).encode()))
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 1300:  # open 1 s, then closed and leaking
        app.tick()
        time.sleep_ms(10)
    out("flow", proto.flow(seq.next(), hal.clock_ms(), 12345.0, 0.0, "open", 0.01))  # clamped


def status_and_batches():
    cfg = cfg_for("node", kind="soil", probe_settle_ms=0)
    hal = UnixHal(cfg)
    node = Node(hal, cfg)
    for state in ("online", "sleeping", "shutdown"):
        wake = hal.clock_ms() + 600000 if state == "sleeping" else None
        out("status", proto.status(state, hal.clock_ms(), node.kind, hal.battery_v(),
                                   hal.rssi_dbm(), node._uptime_s(), len(node.outbox), wake))
    out("status", proto.status("online", hal.clock_ms(), "valve", None, -200, 0, 0))
    out("status", proto.OFFLINE)
    for _ in range(3):
        node.measure()
    ob = Outbox(cfg["state_dir"] + "/outbox.dat")
    _, channel, items = ob.peek(50, 8192)
    out(channel, proto.batch_parts(items))


soil()
tilt()
valve()
flow()
status_and_batches()
