"""Zone valves: a built-in simulated valve node that behaves like the firmware, or a real one.

:class:`SimValveNode` follows docs/protocol.md "Commands and acks" to the letter: it echoes the
command id in its ack, refuses a command received after ``deadline_ms`` (``ok=false``,
``reason="expired"``), acks a duplicate id again without acting twice, closes itself after
``min(max_run_s, hard cap)`` by its own clock and publishes every state change on its ``valve``
channel (causes ``boot``, ``cmd``, ``max_run``). Its clock is the simulated device clock. Like
firmware/micropython/app/valve.py, a repeated id gets the very same ack (same ``seq`` and
``ts_ms``), and an ``open`` while open re-arms the timer under the new id without an event.

:class:`ExternalValve` stands for a real node (e.g. the MicroPython firmware) in the loop: the
simulator only listens to its ``valve`` events and waters the zone while it reports ``open``.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ValidationError

from greeniot.protocol import Ack, Command, DeviceConfig, FlowReading, ValveEvent

log = logging.getLogger(__name__)

_REMEMBERED_IDS = 32  # as the firmware
#: Faults of the water line a simulated flow meter sees (:meth:`SimValveNode.inject`).
FlowFault = Literal["burst", "leak", "no_flow", "low_flow"]
#: Flow while open under a fault, as a share of the nominal flow.
FAULT_FLOW: dict[str, float] = {"burst": 3.0, "no_flow": 0.0, "low_flow": 0.3}


class SimValveNode:
    """A valve node's logic. Pure: methods take the node's clock and return messages to send.

    Parameters
    ----------
    next_seq : callable
        Hands out this device's sequence numbers (shared with nothing else).
    hard_cap_s : float
        The node's configured hard cap on a run [s]; a retained ``config`` may change it.
    flow_lpm : float
        Flow while open [L/min], reported as ``flow_l`` when the valve closes.
    flow_report_s : float, optional
        With a flow meter (as the firmware's ``flow_k_per_l`` > 0): a ``flow`` reading every
        this many seconds while open, and while closed when water flows (a leak). None: no
        meter readings (``flow_l`` at close only).
    leak_lpm : float
        Flow past the closed valve under the ``leak`` fault [L/min].
    """

    def __init__(self, *, next_seq: Callable[[], int], hard_cap_s: float = 3600.0,
                 flow_lpm: float = 20.0, flow_report_s: float | None = None,
                 leak_lpm: float = 2.0) -> None:
        self._next_seq = next_seq
        self.hard_cap_s = float(hard_cap_s)
        self.flow_lpm = float(flow_lpm)
        self.flow_report_s = flow_report_s
        self.leak_lpm = float(leak_lpm)
        self.fault: FlowFault | None = None
        self._litres = 0.0  # since the last state change
        self._accrued_ms: int | None = None
        self._reported_ms: int | None = None
        self.is_open = False
        self.opened_ms: int | None = None
        self.close_at_ms: int | None = None
        self.cmd_id: str | None = None
        self._seen: OrderedDict[str, Ack] = OrderedDict()  # id → the ack it got
        self.commands_acted = 0

    @property
    def state(self) -> str:
        return "open" if self.is_open else "closed"

    # -- the water line ------------------------------------------------------------------------
    def inject(self, fault: FlowFault | None) -> None:
        """Put a fault on the line (None clears it): ``burst`` (3× the flow while open),
        ``low_flow`` (0.3×), ``no_flow`` (nothing while open), ``leak`` (``leak_lpm``
        while closed)."""
        self.fault = fault

    def flow_now_lpm(self) -> float:
        """What the meter sees now [L/min]."""
        if self.is_open:
            return self.flow_lpm * FAULT_FLOW.get(self.fault or "", 1.0)
        return self.leak_lpm if self.fault == "leak" else 0.0

    def _accrue(self, now_ms: int) -> None:
        if self._accrued_ms is not None and now_ms > self._accrued_ms:
            self._litres += self.flow_now_lpm() * (now_ms - self._accrued_ms) / 60_000
        self._accrued_ms = now_ms if self._accrued_ms is None else max(now_ms,
                                                                        self._accrued_ms)

    def _restart_total(self, now_ms: int) -> float:
        """At a state change: the litres since the previous one; a new total starts."""
        self._accrue(now_ms)
        litres, self._litres = self._litres, 0.0
        self._reported_ms = now_ms
        return litres

    def _flow_reading(self, now_ms: int) -> list[BaseModel]:
        if self.flow_report_s is None:
            return []
        if self._reported_ms is None:
            self._accrue(now_ms)
            self._reported_ms = now_ms
            return []
        window_ms = now_ms - self._reported_ms
        if window_ms < self.flow_report_s * 1000:
            return []
        before = self._litres
        self._accrue(now_ms)
        litres = self._litres - before
        self._reported_ms = now_ms
        if not self.is_open and litres <= 0:
            return []
        return [FlowReading(seq=self._next_seq(), ts_ms=now_ms,
                            flow_l_min=round(litres * 60_000 / window_ms, 3),
                            total_l=round(self._litres, 3), valve=self.state,  # type: ignore[arg-type]
                            window_s=round(window_ms / 1000, 3))]

    # -- inputs --------------------------------------------------------------------------------
    def boot(self, now_ms: int) -> list[BaseModel]:
        """At power-up the valve is closed and says so."""
        self.is_open, self.opened_ms, self.close_at_ms = False, None, None
        self._restart_total(now_ms)
        return [ValveEvent(seq=self._next_seq(), ts_ms=now_ms, state="closed", cause="boot")]

    def on_config(self, payload: bytes) -> None:
        """Take ``max_run_s`` from a retained config as the new hard cap."""
        try:
            cfg = DeviceConfig.model_validate_json(payload)
        except ValidationError as err:
            log.warning("valve config refused: %s", err.errors()[:1])
            return
        if cfg.max_run_s is not None:
            self.hard_cap_s = float(cfg.max_run_s)

    def on_command(self, payload: bytes, now_ms: int) -> list[BaseModel]:
        """Handle one ``cmd`` payload received at ``now_ms``; returns the valve event (if the
        state changed) followed by the ack."""
        try:
            cmd = Command.model_validate_json(payload)
        except ValidationError as err:
            cid = _command_id(payload)
            if cid is None:
                log.warning("valve cmd without a usable id dropped: %r", payload[:200])
                return []
            seen = self._seen.get(cid)
            if seen is not None:
                return [seen]
            reason = f"invalid: {err.errors()[0]['msg']}"[:200]
            return [self._ack(cid, now_ms, ok=False, reason=reason)]
        seen = self._seen.get(cmd.id)
        if seen is not None:  # a redelivery: the same ack again, no second action
            return [seen]
        out: list[BaseModel] = []
        if now_ms > cmd.deadline_ms:
            return [self._ack(cmd.id, now_ms, ok=False, reason="expired")]
        if cmd.op == "open":
            assert cmd.max_run_s is not None  # the model guarantees it
            run_s = min(float(cmd.max_run_s), self.hard_cap_s)
            if not self.is_open:
                self._restart_total(now_ms)  # a leak's water was reported as it came
                self.is_open, self.opened_ms = True, now_ms
                out.append(ValveEvent(seq=self._next_seq(), ts_ms=now_ms, state="open",
                                      cause="cmd", cmd_id=cmd.id))
            self.close_at_ms = now_ms + round(run_s * 1000)  # (re-)armed under the new id
            self.cmd_id = cmd.id
        elif self.is_open:
            out.append(self._close(now_ms, "cmd", cmd.id))
        self.commands_acted += 1
        out.append(self._ack(cmd.id, now_ms, ok=True, reason=None))
        return out

    def tick(self, now_ms: int) -> list[BaseModel]:
        """Close at the max-run deadline if it has passed (event stamped at the deadline);
        with a flow meter, the flow reading due by now."""
        out: list[BaseModel] = []
        if self.is_open and self.close_at_ms is not None and now_ms >= self.close_at_ms:
            out.append(self._close(self.close_at_ms, "max_run", self.cmd_id))
        return out + self._flow_reading(now_ms)

    def open_seconds(self, t0_ms: int, t1_ms: int) -> float:
        """How long the valve is open within ``[t0_ms, t1_ms)`` given its current state [s]."""
        if not self.is_open or self.opened_ms is None:
            return 0.0
        end = t1_ms if self.close_at_ms is None else min(t1_ms, self.close_at_ms)
        return max(0.0, (end - max(t0_ms, self.opened_ms)) / 1000.0)

    # -- helpers -------------------------------------------------------------------------------
    def _close(self, at_ms: int, cause: str, cmd_id: str | None) -> ValveEvent:
        open_s = (at_ms - (self.opened_ms or at_ms)) / 1000.0
        if self._accrued_ms is None or self._accrued_ms < (self.opened_ms or at_ms):
            self._accrued_ms = self.opened_ms  # opened without a meter clock: from the open
        litres = self._restart_total(at_ms)
        self.is_open, self.opened_ms, self.close_at_ms = False, None, None
        return ValveEvent(seq=self._next_seq(), ts_ms=at_ms, state="closed", cause=cause,  # type: ignore[arg-type]
                          cmd_id=cmd_id, open_s=round(open_s, 3), flow_l=round(litres, 2))

    def _ack(self, cmd_id: str, now_ms: int, *, ok: bool, reason: str | None) -> Ack:
        """Acknowledge with the current state, and remember the ack for redeliveries."""
        ack = Ack(id=cmd_id, seq=self._next_seq(), ts_ms=now_ms, ok=ok,
                  state="open" if self.is_open else "closed", reason=reason)
        self._seen[cmd_id] = ack
        while len(self._seen) > _REMEMBERED_IDS:
            self._seen.popitem(last=False)
        return ack


class ExternalValve:
    """A real valve node's state as reported on its ``valve`` channel.

    A real node times its run in wall seconds, which compressed time stretches by the speed
    factor (20 s of wall time at 3000× is 17 simulated hours of watering). With ``cap_s`` each
    opening waters for at most that many simulated seconds, as the node's own ``max_run_s``
    would if its clock ran at simulation speed; ``None`` waters for as long as it says open.
    """

    def __init__(self, cap_s: float | None = None) -> None:
        self.cap_s = cap_s
        self.is_open = False
        self.opened_ms: int | None = None
        self.events = 0

    def on_event(self, payload: bytes, now_ms: int) -> bool:
        """Apply a ``valve`` event received at simulated ``now_ms``; returns False (and ignores
        it) when it is not valid v1."""
        try:
            ev = ValveEvent.model_validate_json(payload)
        except ValidationError as err:
            log.warning("external valve event refused: %s", err.errors()[:1])
            return False
        if ev.state == "open" and not self.is_open:
            self.opened_ms = now_ms
        self.is_open = ev.state == "open"
        self.events += 1
        return True

    def open_seconds(self, t0_ms: int, t1_ms: int) -> float:
        if not self.is_open or self.opened_ms is None:
            return 0.0
        end = t1_ms if self.cap_s is None else min(t1_ms, self.opened_ms + round(self.cap_s * 1000))
        return max(0.0, (end - max(t0_ms, self.opened_ms)) / 1000.0)


def _command_id(payload: bytes) -> str | None:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    cid = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(cid, str):
        return None
    try:  # the ack must itself be valid v1
        Ack(id=cid, seq=0, ts_ms=946_684_800_000, ok=False)
    except ValidationError:
        return None
    return cid
