"""Flow metering of valve zones: a burst closes the valve at once; low flow, no flow while
open and flow while closed become repair tasks.

Readings come from the valve node's pulse flow meter (``flow`` channel, docs/protocol.md
"Flow"). Each valve's expected flow is learned from its own normal runs (the median of its
recent readings), as irrigation controllers with flow sensing do, and until it is learned
taken from the zone's nominal flow: application rate × area (1 mm on 1 m² is 1 L). The
judgement is per reading, on arrival, not per analytics tick: a burst pipe loses tens of
litres a minute and must be shut at once.

:class:`FlowJudge` is pure (state in, findings out); :class:`FlowWatch` carries the findings
out: the close command through the valve commander, tasks and alerts through the executor.
A valve closed for a burst stays closed while its repair task is open: an open reported by it
(an irrigation cycle, a manual open) is closed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Literal

from pydantic import BaseModel

from greeniot.actions.executor import Outcome
from greeniot.actions.plan import Action, Alert, Task
from greeniot.actions.valves import SessionFactory, ValveCommander
from greeniot.estate import EstateContext, ZoneInfo
from greeniot.protocol.messages import FlowReading, ValveEvent
from greeniot.registry import crud

log = logging.getLogger(__name__)

FindingKind = Literal["flow_burst", "flow_low", "flow_none", "flow_leak"]
MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class FlowParams:
    """Flow thresholds, project defaults (controllers with flow sensing, e.g. Rain Bird
    FloWatch and Hunter Flow Monitoring, alarm at a share above or below each zone's learned
    flow; the shares here are ours).

    Attributes
    ----------
    burst_ratio : flow above this × expected is a burst (high flow) [-]; 1.5: a lateral
        break or a blown-off head adds at least half a zone's flow, while pressure swings on
        a mains supply stay within ±20 %.
    low_ratio : flow below this × expected is low flow (clogged filter, crushed pipe, low
        pressure) [-].
    no_flow_l_min : flow below this while open is no flow at all [L min-1] (a 450 pulse/L
        meter gives ~1.5 Hz here: above its noise, below any emitter).
    leak_l_min : flow while closed at or above this is a leak or a stuck valve [L min-1].
    fill_s : grace after an open: pipes fill and the meter spins up [s].
    drain_s : grace after a close: the line drains through the meter [s].
    confirm : readings in a row a low/no-flow/leak finding needs (one noisy window is no
        finding; a burst needs one).
    learn : normal readings kept per valve; the expected flow is their median once
        ``learn_min`` are in.
    """

    burst_ratio: float = 1.5
    low_ratio: float = 0.5
    no_flow_l_min: float = 0.2
    leak_l_min: float = 0.2
    fill_s: float = 30.0
    drain_s: float = 60.0
    confirm: int = 2
    learn: int = 20
    learn_min: int = 5


DEFAULT_FLOW = FlowParams()


@dataclass(frozen=True, slots=True)
class FlowFinding:
    kind: FindingKind
    site: str
    device: str
    zone: str | None
    ts_ms: int
    flow_l_min: float
    expected_l_min: float | None
    text: str


@dataclass(slots=True)
class _Valve:
    opened_ms: int | None = None
    closed_ms: int | None = None
    normal: deque[float] = field(default_factory=deque)
    streak: dict[str, int] = field(default_factory=dict)


def nominal_l_min(zone: ZoneInfo | None) -> float | None:
    """Application rate [mm/h] × area [m²] / 60 → L/min (None without both)."""
    if zone is None or not zone.application_rate_mm_h or not zone.area_m2:
        return None
    return zone.application_rate_mm_h * zone.area_m2 / 60.0


class FlowJudge:
    """Per-valve flow state and the findings of each reading."""

    def __init__(self, params: FlowParams = DEFAULT_FLOW) -> None:
        self.params = params
        self._valves: dict[tuple[str, str], _Valve] = {}

    def _v(self, site: str, device: str) -> _Valve:
        return self._valves.setdefault((site, device), _Valve())

    def observe_valve(self, site: str, device: str, ev: ValveEvent) -> None:
        v = self._v(site, device)
        if ev.state == "open":
            v.opened_ms, v.closed_ms = ev.ts_ms, None
        else:
            v.closed_ms, v.opened_ms = ev.ts_ms, None
        v.streak.clear()

    def knows(self, site: str, device: str) -> bool:
        """Whether any valve event or flow reading of ``device`` has been judged."""
        return (site, device) in self._valves

    def expected_l_min(self, site: str, device: str, zone: ZoneInfo | None) -> float | None:
        v = self._valves.get((site, device))
        if v is not None and len(v.normal) >= self.params.learn_min:
            return float(median(v.normal))
        return nominal_l_min(zone)

    def _confirmed(self, v: _Valve, kind: str) -> bool:
        for k in list(v.streak):
            if k != kind:
                del v.streak[k]
        v.streak[kind] = v.streak.get(kind, 0) + 1
        return v.streak[kind] == self.params.confirm  # once per streak

    def observe(self, site: str, device: str, r: FlowReading, zone: ZoneInfo | None
                ) -> list[FlowFinding]:
        p, v = self.params, self._v(site, device)
        q = r.flow_l_min
        zname = zone.zone if zone else None

        def finding(kind: FindingKind, text: str, expected: float | None) -> FlowFinding:
            return FlowFinding(kind, site, device, zname, r.ts_ms, q, expected, text)

        if r.valve == "closed":
            since = v.closed_ms
            if since is not None and (r.ts_ms - since) / MS_PER_S < p.drain_s:
                return []
            if q >= p.leak_l_min:
                if self._confirmed(v, "leak"):
                    return [finding("flow_leak", f"flow while closed: {q:.1f} L/min, "
                                    f"{r.total_l:.1f} L since the close (leak past the valve "
                                    f"or the valve stuck open; limit {p.leak_l_min:g} L/min)",
                                    0.0)]
                return []
            v.streak.clear()
            return []
        opened = v.opened_ms
        if opened is not None and (r.ts_ms - opened) / MS_PER_S < p.fill_s:
            return []
        expected = self.expected_l_min(site, device, zone)
        if expected is not None and q > p.burst_ratio * expected:
            v.streak.clear()
            return [finding("flow_burst", f"high flow: {q:.1f} L/min against {expected:.1f} "
                            f"expected (burst at > {p.burst_ratio:g}×): burst pipe or broken "
                            "head", expected)]
        if q < p.no_flow_l_min:
            if self._confirmed(v, "none"):
                return [finding("flow_none", f"no flow while open: {q:.2f} L/min (below "
                                f"{p.no_flow_l_min:g}): valve not opening, supply off or "
                                "meter fault", expected)]
            return []
        if expected is not None and q < p.low_ratio * expected:
            if self._confirmed(v, "low"):
                return [finding("flow_low", f"low flow: {q:.1f} L/min against {expected:.1f} "
                                f"expected (low below {p.low_ratio:g}×): clogged filter or "
                                "emitters, crushed pipe, low pressure", expected)]
            return []
        v.streak.clear()
        v.normal.append(q)
        while len(v.normal) > p.learn:
            v.normal.popleft()
        return []


#: Task priority and alert severity per finding.
_GRADE: dict[str, tuple[int, Literal["warning", "critical"]]] = {
    "flow_burst": (1, "critical"), "flow_none": (2, "warning"), "flow_leak": (2, "warning"),
    "flow_low": (3, "warning")}


def flow_actions(f: FlowFinding) -> list[Action]:
    """One repair task per valve (findings of one valve fold into it) and an alert per
    finding kind."""
    priority, severity = _GRADE[f.kind]
    where = f"zone {f.zone}" if f.zone else f"valve {f.device}"
    task = Task(site=f.site, kind="repair", priority=priority, subject=f.device,
                title=f"repair irrigation of {where} (valve {f.device}): {f.kind}",
                severity=severity, ts_ms=f.ts_ms, reasons=(f.text,), zone=f.zone,
                device=f.device)
    alert = Alert(site=f.site, kind=f.kind, severity=severity,
                  message=f"{where}: {f.text}", dedup_key=f"{f.kind}:{f.site}:{f.device}",
                  ts_ms=f.ts_ms, reasons=(f.text,), device=f.device, zone=f.zone,
                  value=f.flow_l_min, task_key=task.dedup_key)
    return [task, alert]


class FlowWatch:
    """Judges flow readings as they arrive and carries the findings out: the close through
    ``commander`` (:class:`~greeniot.actions.valves.ValveCommander`), tasks and alerts
    through ``apply`` (``ActionExecutor.apply``); ``sessions`` to see whether a burst valve's
    repair task is still open."""

    def __init__(self, commander: ValveCommander,
                 apply: Callable[[Sequence[Action]], Awaitable[list[Outcome]]],
                 sessions: SessionFactory, params: FlowParams = DEFAULT_FLOW) -> None:
        self.judge = FlowJudge(params)
        self._commander, self._apply, self._sessions = commander, apply, sessions
        self._burst: set[tuple[str, str]] = set()
        self.closed_for_burst = 0

    @staticmethod
    def _zone(ctx: EstateContext, site: str, device: str) -> ZoneInfo | None:
        for z in ctx.zones:
            if z.site == site and z.valve_device == device:
                return z
        return None

    async def observe(self, site: str, device: str, msg: BaseModel, ctx: EstateContext
                      ) -> list[Outcome]:
        """Take a valve event or a flow reading (others are ignored)."""
        if not isinstance(msg, ValveEvent | FlowReading):
            return []
        zone = self._zone(ctx, site, device)
        zname = zone.zone if zone else None
        if isinstance(msg, ValveEvent):
            self.judge.observe_valve(site, device, msg)
            if msg.state == "open" and (site, device) in self._burst:
                return await self._hold(site, device, zname)
            return []
        if msg.valve == "open" and (site, device) in self._burst:
            return await self._hold(site, device, zname)
        out: list[Outcome] = []
        for f in self.judge.observe(site, device, msg, zone):
            if f.kind == "flow_burst":
                self._burst.add((site, device))
                out.append(await self._shut(site, device, zname, f.text))
            out += await self._apply(flow_actions(f))
        return out

    async def _shut(self, site: str, device: str, zone: str | None, why: str) -> Outcome:
        try:
            cmd = await self._commander.send(site=site, device=device, op="close",
                                             max_run_s=None, reason=f"flow: {why}", zone=zone)
        except Exception as err:  # recorded as failed by the commander; the alert still goes
            log.warning("burst close of %s/%s not sent: %s", site, device, err)
            return Outcome("valve", False, True, f"VALVE FAILED close {device}: {err}")
        self.closed_for_burst += 1
        return Outcome("valve", True, True, f"VALVE cmd {cmd} close {device} zone {zone}: "
                                            f"{why}", cmd)

    def _repair_open(self, site: str, device: str) -> bool:
        with self._sessions() as s:
            return crud.find_active_task(s, dedup_key=f"repair:{site}:{device}") is not None

    async def _hold(self, site: str, device: str, zone: str | None) -> list[Outcome]:
        """A burst-locked valve opened again: close it while its repair task is open."""
        if not await asyncio.to_thread(self._repair_open, site, device):
            self._burst.discard((site, device))
            return []
        return [await self._shut(site, device, zone,
                                 "closed again: its repair task (burst) is still open")]
