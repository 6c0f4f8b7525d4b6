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

from pydantic import BaseModel, ValidationError

from greeniot.protocol import Ack, Command, DeviceConfig, ValveEvent

log = logging.getLogger(__name__)

_REMEMBERED_IDS = 32  # as the firmware


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
    """

    def __init__(self, *, next_seq: Callable[[], int], hard_cap_s: float = 3600.0,
                 flow_lpm: float = 20.0) -> None:
        self._next_seq = next_seq
        self.hard_cap_s = float(hard_cap_s)
        self.flow_lpm = float(flow_lpm)
        self.is_open = False
        self.opened_ms: int | None = None
        self.close_at_ms: int | None = None
        self.cmd_id: str | None = None
        self._seen: OrderedDict[str, Ack] = OrderedDict()  # id → the ack it got
        self.commands_acted = 0

    @property
    def state(self) -> str:
        return "open" if self.is_open else "closed"

    # -- inputs --------------------------------------------------------------------------------
    def boot(self, now_ms: int) -> list[BaseModel]:
        """At power-up the valve is closed and says so."""
        self.is_open, self.opened_ms, self.close_at_ms = False, None, None
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
        """Close at the max-run deadline if it has passed (event stamped at the deadline)."""
        if self.is_open and self.close_at_ms is not None and now_ms >= self.close_at_ms:
            return [self._close(self.close_at_ms, "max_run", self.cmd_id)]
        return []

    def open_seconds(self, t0_ms: int, t1_ms: int) -> float:
        """How long the valve is open within ``[t0_ms, t1_ms)`` given its current state [s]."""
        if not self.is_open or self.opened_ms is None:
            return 0.0
        end = t1_ms if self.close_at_ms is None else min(t1_ms, self.close_at_ms)
        return max(0.0, (end - max(t0_ms, self.opened_ms)) / 1000.0)

    # -- helpers -------------------------------------------------------------------------------
    def _close(self, at_ms: int, cause: str, cmd_id: str | None) -> ValveEvent:
        open_s = (at_ms - (self.opened_ms or at_ms)) / 1000.0
        self.is_open, self.opened_ms, self.close_at_ms = False, None, None
        return ValveEvent(seq=self._next_seq(), ts_ms=at_ms, state="closed", cause=cause,  # type: ignore[arg-type]
                          cmd_id=cmd_id, open_s=round(open_s, 3),
                          flow_l=round(self.flow_lpm * open_s / 60.0, 2))

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
