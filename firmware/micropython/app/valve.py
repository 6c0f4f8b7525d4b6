"""Valve node logic: obey ``open``/``close`` commands, ack them, and close on its own clock.

Safety rules (docs/protocol.md "Commands and acks"):

- On boot the valve is driven closed (``cause`` boot), whatever it was before the reset.
- An ``open`` runs for ``min(max_run_s, cfg["max_run_s"])`` seconds, timed on the node's own
  monotonic ticks, so it closes (``cause`` max_run) with or without a broker.
- A command past its ``deadline_ms`` (node's UTC clock) is refused: ``ok`` false, ``reason``
  ``expired``.
- With a pulse flow meter (``flow_k_per_l`` > 0, drivers/flow.py): a ``flow`` reading every
  ``flow_report_s`` while open (rate and litres so far), and while closed whenever pulses
  came (a leak, a stuck valve); the close event carries the run's litres as ``flow_l``. The
  backend judges them (burst, no flow, leak); the node only measures.
- A repeated command ``id`` (QoS 1 redelivery, or a retrying backend) gets the *same* ack again
  and is not acted on twice. The last ``_REMEMBER`` ids and their acks are kept on flash, and
  written before the ack goes out (and before the MQTT PUBACK), so a reset cannot make a
  redelivered command act twice either.
"""

import time

from lib import proto
from lib.store import read_json, write_json

_REMEMBER = 32


class ValveApp:
    kind = "valve"

    def __init__(self, hal, cfg, log, seq, emit):
        """``seq``: the node's ``Seq``; ``emit(channel, payload)`` queues an event (outbox)."""
        self.hal = hal
        self.log = log
        self.seq = seq
        self.emit = emit
        self.cap_s = cfg["max_run_s"]
        self._path = cfg["state_dir"] + "/valve.json"
        saved = read_json(self._path, None)
        if not isinstance(saved, dict):
            saved = {}
        self._recent = saved.get("recent") or []  # [[cmd_id, ack_json], ...], oldest first
        self._was_open = saved.get("open")  # [cmd_id, opened_ms] if a reset cut a run short
        self.is_open = False
        self.cmd_id = None
        self._opened_ticks = 0  # when the valve opened (open_s)
        self._armed_ticks = 0  # when the running timer was (re)started
        self._opened_ms = 0
        self._run_ms = 0
        self.flow = None
        if cfg.get("flow_k_per_l", 0) > 0:
            from drivers.flow import FlowMeter, PulseCounter

            off, on = hal.irq_guards()
            self.flow = FlowMeter(PulseCounter(hal.flow_pin(), cfg["flow_k_per_l"],
                                               hal.flow_trigger(), off, on))
            self._flow_every_ms = int(cfg["flow_report_s"] * 1000)
            self._flow_at = time.ticks_ms()

    # -- persistence ------------------------------------------------------------------------
    def _save(self):
        run = [self.cmd_id, self._opened_ms] if self.is_open else None
        write_json(self._path, {"recent": self._recent, "open": run})

    # -- valve actions ----------------------------------------------------------------------
    def boot(self):
        """Force the valve closed and report it (with the interrupted run, if any)."""
        self.hal.valve(False)
        self._flow_restart()
        cmd_id = open_s = None
        if self._was_open:
            cmd_id = self._was_open[0]
            open_s = max(0.0, (self.hal.clock_ms() - self._was_open[1]) / 1000)
        self._event(self.hal.clock_ms(), "closed", "boot", cmd_id, open_s)
        self._save()

    def _event(self, ts_ms, state, cause, cmd_id=None, open_s=None, flow_l=None):
        payload = proto.valve_event(self.seq.next(), ts_ms, state, cause, cmd_id, open_s,
                                    flow_l)
        self.emit("valve", payload)
        self.log.info("valve %s (%s%s)", state, cause, " " + cmd_id if cmd_id else "")

    def _open(self, cmd_id, run_s):
        self._run_ms = int(min(run_s, self.cap_s) * 1000)
        if self.is_open:  # a new command takes over the running cycle: re-arm the timer
            self._armed_ticks = time.ticks_ms()
            self.cmd_id = cmd_id
            return
        self.hal.valve(True)
        self._flow_restart()  # what flowed while closed was reported as it came
        # The event's ts_ms and the run timer start together, right after the pin changed.
        self._opened_ms = self.hal.clock_ms()
        self._armed_ticks = self._opened_ticks = time.ticks_ms()
        self.is_open = True
        self.cmd_id = cmd_id
        self._event(self._opened_ms, "open", "cmd", cmd_id)

    def _close(self, cause, cmd_id):
        if not self.is_open:
            return
        if self.flow is not None:
            self.hal.flow_tick()  # pulses up to the close belong to this run
        self.hal.valve(False)
        ts_ms = self.hal.clock_ms()
        open_s = time.ticks_diff(time.ticks_ms(), self._opened_ticks) / 1000
        self.is_open = False
        self._event(ts_ms, "closed", cause, cmd_id, open_s, self._flow_restart())

    # -- flow meter -------------------------------------------------------------------------
    def _flow_restart(self):
        """Litres since the last valve state change (None without a meter); a new total
        and a new report window start."""
        if self.flow is None:
            return None
        self._flow_at = time.ticks_ms()
        return self.flow.restart()

    def _flow_tick(self):
        self.hal.flow_tick()
        now = time.ticks_ms()
        elapsed = time.ticks_diff(now, self._flow_at)
        if elapsed < self._flow_every_ms:
            return
        self._flow_at = now
        rate, litres = self.flow.sample(elapsed)
        if self.is_open or litres > 0:
            state = "open" if self.is_open else "closed"
            self.emit("flow", proto.flow(self.seq.next(), self.hal.clock_ms(), rate,
                                         self.flow.total_l, state, elapsed / 1000))

    def time_left_ms(self):
        """Milliseconds until the node must close the valve itself (None when closed)."""
        if not self.is_open:
            return None
        return self._run_ms - time.ticks_diff(time.ticks_ms(), self._armed_ticks)

    def tick(self):
        """Close the valve when its run time is up. Called every main-loop turn."""
        if self.is_open and self.time_left_ms() <= 0:
            self._close("max_run", self.cmd_id)
            self._save()
        if self.flow is not None:
            self._flow_tick()

    # -- commands ---------------------------------------------------------------------------
    def _remembered(self, cmd_id):
        for entry in self._recent:
            if entry[0] == cmd_id:
                return entry[1]
        return None

    def on_cmd(self, payload):
        """Handle one ``cmd`` payload; return the ack bytes to publish (or None)."""
        cmd, reason = proto.parse_command(payload)
        if reason is not None:
            self.log.warning("command refused: %s", reason)
            if cmd is None:
                return None  # no readable id: nothing to ack to
            return self._ack(cmd, False, reason)  # here ``cmd`` is the readable id
        cmd_id = cmd["id"]
        again = self._remembered(cmd_id)
        if again is not None:
            self.log.info("command %s repeated: acking again, not acting", cmd_id)
            return again.encode()
        if self.hal.clock_ms() > cmd["deadline_ms"]:
            self.log.warning("command %s expired", cmd_id)
            return self._ack(cmd_id, False, "expired")
        if cmd["op"] == "open":
            self._open(cmd_id, cmd["max_run_s"])
        else:
            self._close("cmd", cmd_id)
        return self._ack(cmd_id, True, None)

    def _ack(self, cmd_id, ok, reason):
        state = "open" if self.is_open else "closed"
        payload = proto.ack(self.seq.next(), self.hal.clock_ms(), cmd_id, ok, state, reason)
        self._recent.append([cmd_id, payload.decode()])
        if len(self._recent) > _REMEMBER:
            self._recent.pop(0)
        self._save()
        return payload
