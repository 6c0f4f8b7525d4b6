"""Events → decisions: valve opens, crew tasks and alerts, each carrying its reasons. Pure.

What estate operations ask for (docs/domain.md): emergency handling around typhoons —
straighten, stake, remove; heritage (ancient/named) trees first; drainage in the rainy season.
Irrigation is not decided here but from the zones' water state
(:mod:`greeniot.actions.irrigation`); :func:`decide` ranks its valve opens with the rest. Every
task carries a
de-duplication key ``"{kind}:{site}:{subject}"`` so one ongoing condition opens one task,
however many readings repeat it; the registry (``crud.ensure_task``) enforces it across
calls, ``decide`` within one call. Every task comes with an alert (same key, ``task_key``
set) so crews hear of it; the executor links the two.

Priorities: 1 = now (safety), 2 = today, 3 = this week, 4 = routine.

============================  ==========================  ========
event                         task                        priority
============================  ==========================  ========
failure                       remove (clear fallen tree)  1
lean / lean_trend critical    stabilize (straighten/stake) 1
lean_step warning             stabilize                   2
lean_storm (storm-time yield) stabilize (cordon, stake)   2 (1 critical)
stiffness (vs earlier storms) inspect                     3 (1 critical)
lean / lean_trend warning     inspect                     3
any lean kind at info         none: a note, never a task  —
storm (phase clear)           post-storm sweep: ranked    2–4
                              inspect of every tree
waterlog                      drain                       3 (2 if long or critical)
device health, mount_moved    device_check                4
drought                       none here: irrigation reads the zone water state
sway                          none: sway while wind blows is not lean
any event in phase clear      none (storm excepted)       —
============================  ==========================  ========

Device health: one ``device_check`` task per device gathers every fault's reason (one visit),
with one alert per (device, fault kind) keyed ``"{kind}:{site}:{device}"``. A device the
registry does not list, at a site whose devices it does list, gets no task: one info alert
per device (``"unregistered:{site}:{device}"``) tells the operator to register or remove it.

Heritage trees are judged on analytics' stricter thresholds; here their task is one priority
higher. An info-level event is no task, for them too. The queue orders by severity first
(critical, warning, info), then priority, then heritage: the heritage bump moves a tree up
within its severity, never above a more severe finding.

One tree has at most one task per kind of work: the key is ``kind:site:tree`` and within one
call the most urgent wins; the post-storm sweep skips a tree that has a lean task in the same
call (joining an already open one across calls is the registry's de-duplication).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from greeniot.actions.plan import Action, Alert, Task, TaskKind, ValveOpen
from greeniot.actions.sweeps import StormForecast, SweepItem, rank_trees
from greeniot.analytics.contract import HEALTH_KINDS, LEAN_KINDS, Event, Severity, TreeRiskState
from greeniot.estate import EstateContext, ZoneInfo

__all__ = ["Action", "Alert", "StormForecast", "Task", "TaskKind", "ValveOpen", "decide",
           "decide_forecast", "describe"]

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
TASK_WORDS: dict[str, str] = {
    "remove": "clear fallen/failed tree",
    "stabilize": "straighten and stake",
    "inspect": "inspect",
    "drain": "drain waterlogged zone",
    "device_check": "check device",
}


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
    elif severity == "info":
        return []  # a note on the tree (its alert history), never a task: precision first
    elif ev.kind in ("lean_step", "lean_storm"):
        kind, priority = "stabilize", 1 if severity == "critical" else 2
    elif ev.kind == "stiffness":
        kind, priority = ("stabilize", 1) if severity == "critical" else ("inspect", 3)
    elif severity == "critical":
        kind, priority = "stabilize", 1
    else:
        kind, priority = "inspect", 3
    subject = ev.subject
    reasons = [describe(ev)]
    if heritage:
        reasons.append("heritage tree: one priority higher")
    title = f"{kind} tree {ev.tree}" if ev.tree else f"{kind} {subject}"
    task = Task(site=ev.site, kind=kind, priority=_bump(priority, heritage), subject=subject,
                title=f"{title} ({TASK_WORDS[kind]})", severity=severity, ts_ms=ev.ts_ms,
                reasons=tuple(reasons), tree=ev.tree, device=ev.device, heritage=heritage)
    return _task_for(task, ev)


def _storm(ev: Event, ctx: EstateContext, trees: TreeRiskState | None = None,
           tasked: frozenset[tuple[str, str]] = frozenset(),
           wet_sites: frozenset[str] = frozenset()) -> list[Action]:
    if ev.phase != "clear":
        return [Alert(site=ev.site, kind="storm", severity=ev.severity,
                      message=f"storm at site {ev.site}: {ev.value:g} {ev.unit}",
                      dedup_key=f"storm:{ev.site}", ts_ms=ev.ts_ms, reasons=(describe(ev),),
                      device=ev.device, value=ev.value)]
    out: list[Action] = [Alert(
        site=ev.site, kind="storm", severity="info",
        message=f"storm over at site {ev.site}: post-storm sweep of every tree, worst first",
        dedup_key=f"storm_over:{ev.site}", ts_ms=ev.ts_ms, reasons=(describe(ev),),
        device=ev.device, value=ev.value)]
    items = rank_trees(ctx, trees, site=ev.site, wet_sites=wet_sites)
    out.extend(_sweep_tasks(items, "post-storm", ev.ts_ms, tasked, describe(ev)))
    return out


def _sweep_tasks(items: list[SweepItem], which: str, ts_ms: int,
                 tasked: frozenset[tuple[str, str]], why: str) -> list[Action]:
    """One inspect task per tree in rank order; a tree whose lean finding opened a task in
    the same call is left to that task (one task per tree)."""
    out: list[Action] = []
    for rank, it in enumerate(items, start=1):
        if (it.site, it.tree) in tasked or it.level >= 2:
            continue  # its lean task (opened by the finding) is the sweep's task for it
        severity: Severity = "warning" if it.level >= 1 else "info"
        priority = _bump(3 if it.level == 0 else 2, it.heritage)
        task = Task(site=it.site, kind="inspect", priority=priority, subject=it.tree,
                    title=f"inspect tree {it.tree} ({which} sweep #{rank})", severity=severity,
                    ts_ms=ts_ms, tree=it.tree, heritage=it.heritage,
                    reasons=(f"{which} sweep, rank {rank} of {len(items)} (score "
                             f"{it.score:.1f}: {', '.join(it.reasons) or 'no findings'})",
                             why))
        out.extend(_task_for(task))
    return out


def decide_forecast(forecast: StormForecast, ctx: EstateContext,
                    trees: TreeRiskState | None = None, *,
                    wet_sites: frozenset[str] = frozenset()) -> list[Action]:
    """A storm forecast (gale or a typhoon signal, :class:`StormForecast`) → the pre-storm
    sweep: one inspect task per tree of the site, highest risk first, and an alert.
    Nothing for a forecast below the trigger."""
    if not forecast.triggers:
        return []
    why = (f"forecast for {forecast.site}: max mean wind {forecast.max_wind_ms} m/s, "
           f"signal {forecast.signal}")
    items = rank_trees(ctx, trees, site=forecast.site, wet_sites=wet_sites)
    head: list[Action] = [Alert(
        site=forecast.site, kind="storm", severity="warning",
        message=f"storm forecast at site {forecast.site}: pre-storm sweep of {len(items)} trees",
        dedup_key=f"storm_forecast:{forecast.site}", ts_ms=forecast.ts_ms, reasons=(why,))]
    return head + _sweep_tasks(items, "pre-storm", forecast.ts_ms, frozenset(), why)


def _waterlog(ev: Event, zone: ZoneInfo | None) -> list[Action]:
    """A drain task with the hours so far; priority 2 once the stage escalated (twice the
    zone's limit, which on calibrated θ includes the soil's own drainage time: the limit is
    in the event's detail)."""
    hours = ev.duration_s / 3600 if ev.duration_s is not None else None
    reasons = [describe(ev)]
    priority = 2 if ev.severity == "critical" else 3
    if hours is not None:
        reasons.append(f"waterlogged for {hours:.1f} h")
    subject = ev.zone or ev.subject
    task = Task(site=ev.site, kind="drain", priority=priority, subject=subject,
                title=f"drain zone {subject} ({TASK_WORDS['drain']})", severity=ev.severity,
                ts_ms=ev.ts_ms, reasons=tuple(reasons), zone=ev.zone, device=ev.device)
    return _task_for(task, ev)


def _health(ev: Event) -> list[Action]:
    """One ``device_check`` task per device (a visit fixes all its faults), one alert per
    (device, fault kind): a battery fault never hides behind an earlier offline alarm."""
    subject = ev.device or ev.subject
    reason = describe(ev)
    task = Task(site=ev.site, kind="device_check", priority=4, subject=subject,
                title=f"device_check {subject} (check device)",
                severity=ev.severity, ts_ms=ev.ts_ms, reasons=(reason,), tree=ev.tree,
                zone=ev.zone, device=ev.device)
    alert = Alert(
        site=ev.site, kind=ev.kind, severity=ev.severity,
        message=f"{task.title}, priority {task.priority}: {reason}",
        dedup_key=f"{ev.kind}:{ev.site}:{subject}", ts_ms=ev.ts_ms, reasons=(reason,),
        device=ev.device, tree=ev.tree, zone=ev.zone, value=ev.value,
        task_key=task.dedup_key)
    return [task, alert]


def _unlisted(ev: Event) -> Alert:
    """A device the registry does not list at a site whose devices it does list: nobody can be
    sent to a device whose place the ledger does not know, so its faults are no crew task but
    one notice for the operator per device — register it (then it is checked like any other)
    or remove it. Junk under an estate's topics must not fill the crews' queue."""
    reason = describe(ev)
    return Alert(
        site=ev.site, kind=ev.kind, severity="info",
        message=f"unregistered device {ev.device} at site {ev.site}: {reason}; no crew task "
                "until it is registered",
        dedup_key=f"unregistered:{ev.site}:{ev.device}", ts_ms=ev.ts_ms, reasons=(reason,),
        device=ev.device, value=ev.value)


Group = tuple[Action, ...]  # a task and its alert travel together


def _rank(group: Group) -> tuple[int, int, int]:
    """Sort key: severity first (critical, warning, info), then priority, heritage first."""
    head = group[0]
    if isinstance(head, Task):
        return -SEVERITY_RANK[head.severity], head.priority, 0 if head.heritage else 1
    if isinstance(head, ValveOpen):
        return -SEVERITY_RANK["warning"], 3, 1
    return (-SEVERITY_RANK[head.severity], {"critical": 1, "warning": 3, "info": 4}[head.severity],
            1)


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
            heritage_trees: frozenset[tuple[str, str]], listed: frozenset[tuple[str, str]],
            listed_sites: frozenset[str]) -> list[Action]:
    zone = zones.get((ev.site, ev.zone)) if ev.zone else None
    if ev.kind == "storm":
        return _storm(ev, ctx)  # (decide sweeps with the tree state)
    if ev.phase == "clear":
        return []  # a condition that ended opens nothing
    if ev.kind in LEAN_KINDS:
        return _lean(ev, heritage_trees)
    if ev.kind == "waterlog":
        return _waterlog(ev, zone)
    if ev.kind in HEALTH_KINDS:
        if ev.device is not None and ev.site in listed_sites and (ev.site, ev.device) not in listed:
            return [_unlisted(ev)]
        return _health(ev)
    # "drought": irrigation reads the zone water state; "sway": sway while the wind blows is
    # not lean
    return []


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


def _gathers(a: Group, b: Group) -> bool:
    """Both groups are a device's check: one visit, so one task with every fault's reason."""
    return all(isinstance(g[0], Task) and g[0].kind == "device_check" for g in (a, b))


def _gather(a: Group, b: Group) -> Group:
    ta, tb = a[0], b[0]
    assert isinstance(ta, Task) and isinstance(tb, Task)
    task = replace(ta, priority=min(ta.priority, tb.priority),
                   severity=max(ta.severity, tb.severity, key=SEVERITY_RANK.__getitem__),
                   reasons=ta.reasons + tuple(r for r in tb.reasons if r not in ta.reasons))
    return (task, *a[1:], *b[1:])


def decide(events: Iterable[Event], ctx: EstateContext, *,
           irrigation: Iterable[ValveOpen | Alert] = (), trees: TreeRiskState | None = None,
           wet_sites: frozenset[str] = frozenset()) -> list[Action]:
    """Turn one tick's events (and the irrigation path's decisions) into actions, most
    urgent first.

    Parameters
    ----------
    events : iterable of Event
        What analytics found this tick.
    ctx : EstateContext
        Zones (limits) and trees (heritage) of the estate.
    irrigation : iterable of ValveOpen | Alert
        From :func:`greeniot.actions.irrigation.plan_irrigation`, ranked with the rest.
    trees : TreeRiskState, optional
        The tick's tree risk state: ranks the post-storm sweep (without it the sweep ranks by
        height and heritage only).
    wet_sites : frozenset of str
        Sites with saturated ground (a waterlogged zone), for the sweep's ranking.

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
    ordered_events = sorted(events, key=lambda e: e.ts_ms)
    listed = frozenset((b.site, b.device) for b in ctx.devices)
    listed_sites = frozenset(site for site, _ in listed)
    groups = [g for ev in ordered_events if ev.kind != "storm"
              for g in _split(_groups(ev, ctx, zones, heritage_trees, listed, listed_sites))]
    tasked = frozenset((h.site, h.tree) for g in groups for h in g[:1]
                       if isinstance(h, Task) and h.tree is not None)
    groups += [g for ev in ordered_events if ev.kind == "storm"
               for g in _split(_storm(ev, ctx, trees, tasked, wet_sites))]
    groups += [(a,) for a in irrigation]
    for group in groups:
        key = _key(group)
        old = kept.get(key)
        if old is not None and _gathers(old, group):
            kept[key] = _gather(old, group)
        elif old is None or _urgency(group) > _urgency(old):
            kept[key] = group
    ordered = sorted(kept.values(), key=_rank)  # stable: first seen first within a rank
    return [a for group in ordered for a in group]
