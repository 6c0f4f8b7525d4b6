"""Events → decisions: valve opens, crew tasks and alerts, each carrying its reasons. Pure.

What estate operations ask for (see DESIGN.md): emergency handling around typhoons —
straighten, stake, remove; heritage (ancient/named) trees first; drainage in the rainy season;
irrigation only when the root zone needs it and the interlocks allow it. Every task carries a
de-duplication key ``"{kind}:{site}:{subject}"`` so one ongoing condition opens one task,
however many readings repeat it; the registry (``crud.open_task_once``) enforces it across
calls, ``decide`` within one call. Every task comes with an alert (same key, ``task_key``
set) so crews hear of it; the executor links the two.

Priorities: 1 = now (safety), 2 = today, 3 = this week, 4 = routine.

============================  ==========================  ========
event                         task                        priority
============================  ==========================  ========
failure                       remove (clear fallen tree)  1
lean / lean_trend critical    stabilize (straighten/stake) 1
lean_step                     stabilize                   2 (1 if critical)
lean / lean_trend warning     inspect                     3
lean / lean_trend info        none (a healthy tree)       —
storm (ended)                 inspect every heritage tree 2
waterlog                      drain                       3 (2 if long or critical)
device health                 device_check                4
drought                       valve open, or an info alert saying why not
sway                          none: sway while wind blows is not lean
============================  ==========================  ========

Heritage trees are judged on analytics' stricter thresholds; here their task is one priority
higher. An info-level event is no task, for them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from greeniot.actions.interlocks import DEFAULT_PARAMS, InterlockParams, ZoneState, may_open
from greeniot.analytics.contract import Event, Severity
from greeniot.estate import EstateContext, ZoneInfo

TaskKind = Literal["remove", "stabilize", "inspect", "drain", "device_check"]

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
HEALTH_KINDS = frozenset({"device_offline", "low_battery", "sensor_stuck"})
LEAN_KINDS = frozenset({"lean", "lean_trend", "lean_step", "failure"})
#: Interlocks that mean "watering is already under way", not "skipped": no alert for these.
IN_PROGRESS = frozenset({"valve_open", "cmd_pending"})
TASK_WORDS: dict[str, str] = {
    "remove": "clear fallen/failed tree",
    "stabilize": "straighten and stake",
    "inspect": "inspect",
    "drain": "drain waterlogged zone",
    "device_check": "check device",
}


@dataclass(frozen=True, slots=True)
class ValveOpen:
    """Open ``device`` (the valve of ``zone``) for ``run_s`` seconds."""

    site: str
    device: str
    zone: str
    run_s: int
    reason: str
    ts_ms: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    """A crew task to open once per ``dedup_key`` (``"{kind}:{site}:{subject}"``)."""

    site: str
    kind: TaskKind
    priority: int
    subject: str
    title: str
    severity: Severity
    ts_ms: int
    reasons: tuple[str, ...]
    tree: str | None = None
    zone: str | None = None
    device: str | None = None
    heritage: bool = False

    @property
    def dedup_key(self) -> str:
        return f"{self.kind}:{self.site}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert to record (once per ``dedup_key``) and publish; ``task_key`` links a task."""

    site: str
    kind: str
    severity: Severity
    message: str
    dedup_key: str
    ts_ms: int
    reasons: tuple[str, ...] = ()
    device: str | None = None
    tree: str | None = None
    zone: str | None = None
    value: float | None = None
    task_key: str | None = None


Action = ValveOpen | Task | Alert


def describe(ev: Event) -> str:
    """One sentence naming the measurement and the threshold it crossed."""
    text = (f"{ev.kind} {ev.value:g} {ev.unit} vs threshold {ev.threshold:g} {ev.unit} "
            f"({ev.severity})")
    return f"{text}: {ev.detail}" if ev.detail else text


def _bump(priority: int, heritage: bool) -> int:
    return max(1, priority - 1) if heritage else priority


def _task_for(task: Task, ev: Event | None = None) -> list[Action]:
    """The task and the alert that announces it (same key; the executor links the two)."""
    alert = Alert(
        site=task.site, kind=ev.kind if ev else task.kind, severity=task.severity,
        message=f"{task.title}, priority {task.priority}: {task.reasons[0]}",
        dedup_key=task.dedup_key, ts_ms=task.ts_ms, reasons=task.reasons, device=task.device,
        tree=task.tree, zone=task.zone, value=ev.value if ev else None,
        task_key=task.dedup_key,
    )
    return [task, alert]


def _lean(ev: Event, heritage_trees: frozenset[tuple[str, str]]) -> list[Action]:
    heritage = ev.heritage or (ev.site, ev.tree or "") in heritage_trees
    # Heritage trees are already judged on analytics' stricter threshold set (TILT_PARAMS
    # "heritage"); here they only move up the queue. An info-level event stays a note, or the
    # two would compound and sensor noise on an ancient tree would send a crew.
    severity: Severity = ev.severity
    if ev.kind == "failure":
        kind: TaskKind = "remove"
        priority = 1
        severity = "critical"
    elif ev.kind == "lean_step":
        kind, priority = "stabilize", 1 if severity == "critical" else 2
    elif severity == "critical":
        kind, priority = "stabilize", 1
    elif severity == "warning":
        kind, priority = "inspect", 3
    else:
        return []  # info-level lean of an ordinary tree: within its normal range
    subject = ev.subject
    reasons = [describe(ev)]
    if heritage:
        reasons.append("heritage tree: one priority higher")
    title = f"{kind} tree {ev.tree}" if ev.tree else f"{kind} {subject}"
    task = Task(site=ev.site, kind=kind, priority=_bump(priority, heritage), subject=subject,
                title=f"{title} ({TASK_WORDS[kind]})", severity=severity, ts_ms=ev.ts_ms,
                reasons=tuple(reasons), tree=ev.tree, device=ev.device, heritage=heritage)
    return _task_for(task, ev)


def _storm_ended(ev: Event) -> bool:
    """Analytics says ``started``/``escalated``/``ended`` first in ``detail``; without that
    word, a value back under the threshold means the storm is over."""
    word = ev.detail.lower()
    if word.startswith(("started", "escalated")):
        return False
    return word.startswith("ended") or ev.value < ev.threshold


def _storm(ev: Event, ctx: EstateContext) -> list[Action]:
    if not _storm_ended(ev):
        return [Alert(site=ev.site, kind="storm", severity=ev.severity,
                      message=f"storm at site {ev.site}: {ev.value:g} {ev.unit}",
                      dedup_key=f"storm:{ev.site}", ts_ms=ev.ts_ms, reasons=(describe(ev),),
                      device=ev.device, value=ev.value)]
    out: list[Action] = [Alert(
        site=ev.site, kind="storm", severity="info",
        message=f"storm over at site {ev.site}: post-storm sweep of heritage trees",
        dedup_key=f"storm_over:{ev.site}", ts_ms=ev.ts_ms, reasons=(describe(ev),),
        device=ev.device, value=ev.value)]
    for tree in sorted((t for t in ctx.trees if t.site == ev.site and t.heritage),
                       key=lambda t: t.tree):
        task = Task(site=ev.site, kind="inspect", priority=_bump(3, True), subject=tree.tree,
                    title=f"inspect tree {tree.tree} (post-storm sweep)", severity="warning",
                    ts_ms=ev.ts_ms, tree=tree.tree, heritage=True,
                    reasons=("post-storm sweep: heritage trees are inspected first after a "
                             "storm", describe(ev)))
        out.extend(_task_for(task))
    return out


def _waterlog(ev: Event, zone: ZoneInfo | None) -> list[Action]:
    limit_h = zone.waterlog_hours if zone else 12.0
    hours = {"h": ev.value, "s": ev.value / 3600}.get(ev.unit)
    reasons = [describe(ev)]
    priority = 3
    if ev.severity == "critical":
        priority = 2
    if hours is not None:
        reasons.append(f"waterlogged for {hours:.1f} h (limit {limit_h:g} h)")
        if hours >= 2 * limit_h:
            priority = 2
    subject = ev.zone or ev.subject
    task = Task(site=ev.site, kind="drain", priority=priority, subject=subject,
                title=f"drain zone {subject} ({TASK_WORDS['drain']})", severity=ev.severity,
                ts_ms=ev.ts_ms, reasons=tuple(reasons), zone=ev.zone, device=ev.device)
    return _task_for(task, ev)


def _health(ev: Event) -> list[Action]:
    subject = ev.device or ev.subject
    task = Task(site=ev.site, kind="device_check", priority=4, subject=subject,
                title=f"device_check {subject} ({ev.kind.replace('_', ' ')})",
                severity=ev.severity, ts_ms=ev.ts_ms, reasons=(describe(ev),), tree=ev.tree,
                zone=ev.zone, device=ev.device)
    return _task_for(task, ev)


def _drought(ev: Event, zone: ZoneInfo | None, state: ZoneState, now_ms: int,
             params: InterlockParams) -> list[Action]:
    need = (f"soil moisture {ev.value:g} % below refill point {ev.threshold:g} %: root-zone "
            "depletion past the management allowed depletion (FAO-56)")
    if zone is None:
        return [Alert(site=ev.site, kind="drought", severity="warning",
                      message=f"drought at {ev.subject} but no irrigation zone is known for it",
                      dedup_key=f"drought_unzoned:{ev.site}:{ev.subject}", ts_ms=ev.ts_ms,
                      reasons=(need,), device=ev.device, zone=ev.zone, value=ev.value)]
    verdict = may_open(zone, state, now_ms, params)
    if verdict.ok and zone.valve_device is not None:
        return [ValveOpen(site=ev.site, device=zone.valve_device, zone=zone.zone,
                          run_s=verdict.run_s, reason=need, ts_ms=ev.ts_ms,
                          reasons=(need, *verdict.reasons))]
    if set(verdict.lockouts) <= IN_PROGRESS:
        return []  # watering already under way: nothing to say
    return [Alert(site=ev.site, kind="irrigation_skipped", severity="info",
                  message=f"irrigation of zone {zone.zone} skipped: "
                          + "; ".join(verdict.reasons),
                  dedup_key=f"irrigation_skipped:{ev.site}:{zone.zone}", ts_ms=ev.ts_ms,
                  reasons=(need, *verdict.reasons), device=zone.valve_device, zone=zone.zone,
                  value=ev.value)]


Group = tuple[Action, ...]  # a task and its alert travel together


def _rank(group: Group) -> tuple[int, int]:
    head = group[0]
    if isinstance(head, Task):
        return head.priority, 0 if head.heritage else 1
    if isinstance(head, ValveOpen):
        return 3, 1
    return {"critical": 1, "warning": 3, "info": 4}[head.severity], 1


def _key(group: Group) -> tuple[str, str]:
    head = group[0]
    if isinstance(head, Task):
        return "task", head.dedup_key
    if isinstance(head, ValveOpen):
        return "valve", f"{head.site}:{head.zone}"
    return "alert", head.dedup_key


def _urgency(group: Group) -> tuple[int, int]:
    """Higher is more urgent: (−priority, severity) for tasks, (0, severity) otherwise."""
    head = group[0]
    if isinstance(head, Task):
        return -head.priority, SEVERITY_RANK[head.severity]
    if isinstance(head, Alert):
        return 0, SEVERITY_RANK[head.severity]
    return 0, 0


def _groups(ev: Event, ctx: EstateContext, zones: Mapping[tuple[str, str], ZoneInfo],
            heritage_trees: frozenset[tuple[str, str]],
            zone_states: Mapping[tuple[str, str], ZoneState], now_ms: int,
            params: InterlockParams) -> list[Action]:
    zone = zones.get((ev.site, ev.zone)) if ev.zone else None
    if ev.kind in LEAN_KINDS:
        return _lean(ev, heritage_trees)
    if ev.kind == "storm":
        return _storm(ev, ctx)
    if ev.kind == "waterlog":
        return _waterlog(ev, zone)
    if ev.kind in HEALTH_KINDS:
        return _health(ev)
    if ev.kind == "drought":
        state = zone_states.get((ev.site, ev.zone or ""), ZoneState())
        return _drought(ev, zone, state, now_ms, params)
    return []  # "sway" and anything else: sway while the wind blows is not lean


def _split(actions: list[Action]) -> list[Group]:
    """Cut a handler's flat output into groups: a Task takes the Alert right after it."""
    groups: list[Group] = []
    for a in actions:
        if isinstance(a, Alert) and groups and isinstance(groups[-1][0], Task) and len(
                groups[-1]) == 1 and a.task_key == groups[-1][0].dedup_key:
            groups[-1] = (groups[-1][0], a)
        else:
            groups.append((a,))
    return groups


def decide(events: Iterable[Event], ctx: EstateContext,
           zone_states: Mapping[tuple[str, str], ZoneState], now_ms: int,
           params: InterlockParams = DEFAULT_PARAMS) -> list[Action]:
    """Turn one tick's events into actions, most urgent first.

    Parameters
    ----------
    events : iterable of Event
        What analytics found this tick.
    ctx : EstateContext
        Zones (limits, valve) and trees (heritage) of the estate.
    zone_states : mapping (site, zone) → ZoneState
        What is known of each zone now (``ZoneTracker.states``); a missing zone is a fresh one.
    now_ms : int
        Decision time, ms UTC (event time in replay).
    params : InterlockParams
        Irrigation lockout thresholds.

    Returns
    -------
    list of ValveOpen | Task | Alert
        De-duplicated within the call — one task per key (the most urgent), one valve open per
        zone (the first), one alert per key (the most severe) — each task followed by its
        alert, ordered by priority with heritage trees first within a priority.
    """
    zones = {(z.site, z.zone): z for z in ctx.zones}
    heritage_trees = frozenset((t.site, t.tree) for t in ctx.trees if t.heritage)
    kept: dict[tuple[str, str], Group] = {}
    for ev in sorted(events, key=lambda e: e.ts_ms):
        for group in _split(_groups(ev, ctx, zones, heritage_trees, zone_states, now_ms,
                                    params)):
            key = _key(group)
            old = kept.get(key)
            if old is None or _urgency(group) > _urgency(old):
                kept[key] = group
    ordered = sorted(kept.values(), key=_rank)  # stable: first seen first within a rank
    return [a for group in ordered for a in group]
