"""Carries out what ``rules.decide`` decided: tasks, alerts and valve commands. Thin I/O.

- a ``Task`` is opened once per dedup key (``crud.ensure_task``); a repeat returns the open one;
- an ``Alert`` is recorded with de-duplication (``crud.ensure_alert``) and linked to the task
  decided with it; it is published on ``greeniot/v1/{site}/alerts`` (QoS 1) when it is new or
  its severity rose — a repeat only bumps its count, so a storm does not flood crews;
- a ``ValveOpen`` goes through :class:`~greeniot.actions.valves.ValveCommander`.

Each action yields an :class:`Outcome` whose ``line`` the CLI prints. The executor also feeds
the zone tracker (weather, valve events, acks) that the interlocks judge, and :meth:`tick` runs
one whole step: expire stale commands, plan irrigation from the zones' water state, decide,
apply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from greeniot import protocol
from greeniot.actions.interlocks import DEFAULT_PARAMS, InterlockParams, ZoneState
from greeniot.actions.irrigation import plan_irrigation
from greeniot.actions.plan import Action, Alert, Task, ValveOpen
from greeniot.actions.rules import decide
from greeniot.actions.sinks import AlertSink
from greeniot.actions.sinks.mqtt import MqttAlertSink
from greeniot.actions.valves import Clock, CommandError, Publish, SessionFactory, ValveCommander
from greeniot.actions.watering import WateringPlanner
from greeniot.actions.zones import ZoneKey, ZoneTracker
from greeniot.analytics.contract import Event, TickResult, ZoneWaterState
from greeniot.analytics.irrigation.decision import WateringDecision
from greeniot.estate import EstateContext
from greeniot.registry import crud
from greeniot.registry.decisions import record_decisions
from greeniot.registry.errors import RegistryError
from greeniot.registry.vocab import SEVERITY_RANK


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one action. ``new`` is False for a repeat folded into an open record."""

    kind: Literal["task", "alert", "valve", "decision"]
    ok: bool
    new: bool
    line: str
    ref: str | int | None = None  # task id, alert id, command id or decision id
    action: Action | None = None
    decision: WateringDecision | None = None  # kind "decision": the watering decision

    def __str__(self) -> str:
        return self.line

    @classmethod
    def for_ack(cls, site: str, device: str, ack: protocol.Ack,
                state: str | None = None) -> Outcome:
        """The line for a node's ack; ``state`` is the command's state after it (default:
        ``acked`` for an ok ack, else ``refused``)."""
        state = state or ("acked" if ack.ok else "refused")
        line = f"VALVE ack {ack.id} {state} {device}"
        if ack.state:
            line += f" valve {ack.state}"
        if ack.reason:
            line += f": {ack.reason}"
        return cls("valve", state == "acked", False, line, ack.id)


def _where(tree: str | None, zone: str | None, device: str | None, site: str) -> str:
    if tree:
        return f"tree {tree}"
    if zone:
        return f"zone {zone}"
    return f"device {device}" if device else f"site {site}"


class ActionExecutor:
    """Applies decisions to the registry, the broker and the valves.

    Parameters
    ----------
    session_factory : callable
        Returns a new registry Session.
    publish : callable
        ``await publish(topic, payload, qos)`` (e.g. ``MqttSession.send``).
    commander : ValveCommander
        Sends valve commands.
    clock : callable
        ``clock() -> int`` ms UTC (event time in replay).
    sinks : sequence of AlertSink, optional
        Where alerts go; default: MQTT on ``greeniot/v1/{site}/alerts`` via ``publish``.
    params : InterlockParams
        Irrigation lockout thresholds for :meth:`tick`.
    tracker : ZoneTracker, optional
        The zone state this executor feeds and judges; default: the commander's. Pass the same
        tracker to both, or commands in flight are invisible to the interlocks.
    planner : WateringPlanner, optional
        Decides the water-balance zones (those with an application rate) once a day.
    """

    def __init__(self, session_factory: SessionFactory, publish: Publish,
                 commander: ValveCommander, clock: Clock, *,
                 sinks: Sequence[AlertSink] | None = None,
                 params: InterlockParams = DEFAULT_PARAMS,
                 tracker: ZoneTracker | None = None,
                 planner: WateringPlanner | None = None,
                 logger: logging.Logger | None = None) -> None:
        self._sessions = session_factory
        self._commander = commander
        self._clock = clock
        self._sinks: tuple[AlertSink, ...] = (
            tuple(sinks) if sinks is not None else (MqttAlertSink(publish),))
        self._params = params
        self._tracker = tracker if tracker is not None else commander.tracker
        if self._tracker is not commander.tracker:
            raise ValueError("tracker must be the commander's tracker (pass it to both)")
        self._log = logger or logging.getLogger(__name__)
        #: Daily FAO-56 decisions of the zones with an application rate (actions.watering).
        self.planner = planner if planner is not None else WateringPlanner()

    @property
    def zones(self) -> ZoneTracker:
        return self._tracker

    # -- inputs ------------------------------------------------------------------------------
    def observe_weather(self, site: str, msg: protocol.WeatherReading) -> None:
        self.zones.observe_weather(site, msg)

    def observe_valve(self, site: str, device: str, msg: protocol.ValveEvent) -> None:
        self.zones.observe_valve(site, device, msg)

    async def handle_ack(self, site: str, device: str, ack: protocol.Ack) -> Outcome | None:
        """Settle a command from its node's ack; an outcome line for a known command."""
        state = await self._commander.handle_ack(site, device, ack)
        if state is None:
            return None
        return Outcome.for_ack(site, device, ack, state)

    async def observe(self, site: str, device: str, msg: BaseModel) -> Outcome | None:
        """Route one decoded device message (weather, valve event, ack); others are
        ignored."""
        if isinstance(msg, protocol.WeatherReading):
            self.observe_weather(site, msg)
        elif isinstance(msg, protocol.ValveEvent):
            self.observe_valve(site, device, msg)
        elif isinstance(msg, protocol.Ack):
            return await self.handle_ack(site, device, msg)
        return None

    def zone_states(self, ctx: EstateContext, now_ms: int) -> Mapping[ZoneKey, ZoneState]:
        return self.zones.states(ctx, now_ms)

    # -- one step ----------------------------------------------------------------------------
    async def tick(self, result: TickResult | Iterable[Event], ctx: EstateContext
                   ) -> list[Outcome]:
        """One step at ``clock()``: expire overdue commands, plan irrigation from the zones'
        water state, decide on the events, apply.

        Call it every analytics tick, with or without events: a dry zone is judged again at
        every tick from its state. ``result`` is the engine's tick (events and states); plain
        events alone judge no irrigation.
        """
        now_ms = self._clock()
        out = [Outcome("valve", False, False, f"VALVE cmd {cmd_id} expired without an ack",
                       cmd_id) for cmd_id in await self._commander.expire()]
        trees = None
        if isinstance(result, TickResult):
            events, water, trees = result.events, result.zones, result.trees
        else:
            events, water = list(result), ZoneWaterState()
        states = self.zone_states(ctx, now_ms)
        irrigation = plan_irrigation(water, ctx, states, now_ms, self._params)
        if isinstance(result, TickResult):
            irrigation += self.planner.plan(result.balance, ctx, states, now_ms)
            out += await self._decisions(self.planner.take_new())
        return out + await self.apply(decide(events, ctx, irrigation=irrigation, trees=trees))

    async def _decisions(self, made: list[WateringDecision]) -> list[Outcome]:
        """Record the planner's new decisions, "no" included, in the registry."""
        if not made:
            return []

        def run() -> list[int]:
            with self._sessions() as s:
                return record_decisions(s, made, now_ms=self._clock())

        try:
            ids: list[int | None] = list(await asyncio.to_thread(run))
            ok = True
        except (RegistryError, SQLAlchemyError) as err:
            self._log.warning("%d watering decisions not recorded: %s", len(made), err)
            ids, ok = [None] * len(made), False
        return [Outcome("decision", ok, True, f"DECISION {d.line()}", i, decision=d)
                for d, i in zip(made, ids, strict=True)]

    async def apply(self, decisions: Iterable[Action]) -> list[Outcome]:
        """Carry out ``decisions`` in order; a task's id is linked into the alert after it."""
        task_ids: dict[str, int] = {}
        out: list[Outcome] = []
        for d in decisions:
            if isinstance(d, Task):
                outcome = await self._task(d)
                if isinstance(outcome.ref, int):
                    task_ids[d.dedup_key] = outcome.ref
            elif isinstance(d, Alert):
                outcome = await self._alert(d, task_ids.get(d.task_key or ""))
            else:
                outcome = await self._valve(d)
            out.append(outcome)
        return out

    async def _task(self, d: Task) -> Outcome:
        def run() -> tuple[int, bool, int]:
            with self._sessions() as s:
                task, created = crud.ensure_task(
                    s, site=d.site, kind=d.kind, title=d.title, priority=d.priority,
                    reason="; ".join(d.reasons), tree=d.tree, zone=d.zone, device=d.device,
                    heritage=d.heritage or None, dedup_key=d.dedup_key, now_ms=self._clock(),
                    gather=d.kind == "device_check")
                return task.id, created, task.priority

        try:
            task_id, created, priority = await asyncio.to_thread(run)
        except RegistryError as err:
            self._log.warning("task %s not opened: %s", d.dedup_key, err)
            return Outcome("task", False, False, f"TASK FAILED {d.dedup_key}: {err}", None, d)
        where = _where(d.tree, d.zone, d.device, d.site)
        note = "" if created else f" (already open as p{priority})"
        line = f"TASK #{task_id} {d.kind} {where} p{d.priority}{note}: {d.reasons[0]}"
        return Outcome("task", True, created, line, task_id, d)

    async def _alert(self, d: Alert, task_id: int | None) -> Outcome:
        def run() -> tuple[protocol.Alert, bool, bool, int]:
            with self._sessions() as s:
                before = crud.find_open_alert(s, dedup_key=d.dedup_key)
                old_rank = SEVERITY_RANK[before.severity] if before is not None else -1
                row, created = crud.ensure_alert(
                    s, site=d.site, kind=d.kind, severity=d.severity, message=d.message,
                    ts_ms=d.ts_ms, value=d.value, device=d.device, tree=d.tree, zone=d.zone,
                    task_id=task_id, dedup_key=d.dedup_key, now_ms=self._clock())
                msg = protocol.Alert(
                    id=row.id, ts_ms=row.last_ts_ms, site=row.site, kind=row.kind,
                    severity=row.severity, message=row.message,  # type: ignore[arg-type]
                    device=row.device, tree=row.tree, zone=row.zone, task_id=row.task_id,
                    value=row.value)
                escalated = not created and SEVERITY_RANK[row.severity] > old_rank
                return msg, created, escalated, row.count

        msg, created, escalated, count = await asyncio.to_thread(run)
        head = f"ALERT {msg.severity} {msg.kind} {_where(msg.tree, msg.zone, msg.device, msg.site)}"
        if not (created or escalated):
            return Outcome("alert", True, False,
                           f"{head}: repeat #{count} of {msg.id}", msg.id, d)
        errors = []
        for sink in self._sinks:
            try:
                await sink.send(msg)
            except Exception as err:  # the alert is durable: report the failure, go on
                errors.append(f"{type(sink).__name__}: {err}")
        if errors:
            self._log.warning("alert %s recorded but not delivered: %s", msg.id,
                              "; ".join(errors))
        note = f" (NOT delivered: {'; '.join(errors)})" if errors else ""
        task = f" task #{msg.task_id}" if msg.task_id is not None else ""
        line = f"{head}{task}{' escalated' if escalated else ''}: {msg.message}{note}"
        return Outcome("alert", not errors, created, line, msg.id, d)

    async def _valve(self, d: ValveOpen) -> Outcome:
        try:
            cmd_id = await self._commander.send(site=d.site, device=d.device, op="open",
                                                max_run_s=d.run_s, reason=d.reason,
                                                zone=d.zone)
        except (CommandError, RegistryError, ValueError) as err:
            self._log.warning("valve open %s/%s not sent: %s", d.site, d.device, err)
            return Outcome("valve", False, True,
                           f"VALVE FAILED open {d.device} {d.run_s}s zone {d.zone}: {err}",
                           None, d)
        return Outcome("valve", True, True,
                       f"VALVE cmd {cmd_id} open {d.device} {d.run_s}s zone {d.zone}: "
                       f"{d.reason}", cmd_id, d)
