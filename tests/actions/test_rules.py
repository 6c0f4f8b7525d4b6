"""Rules: events in, decisions out — exact kinds, priorities, keys and reasons."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from greeniot.actions.rules import Alert, StormForecast, Task, decide, decide_forecast
from greeniot.analytics.contract import Event, TreeRiskState
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo

NOW_MS = 1_795_510_737_944
SITE = "estate-a"
CTX = EstateContext(
    trees=(TreeInfo(SITE, "t001"), TreeInfo(SITE, "t007"),
           TreeInfo(SITE, "h001", heritage=True), TreeInfo(SITE, "h002", heritage=True),
           TreeInfo("other", "h900", heritage=True)),
    zones=(ZoneInfo(SITE, "z02", valve_device="valve-z02", max_run_s=600),
           ZoneInfo(SITE, "z03")),
)


def ev(kind: str, severity: str = "warning", *, value: float = 1.0, threshold: float = 0.5,
       unit: str = "deg", tree: str | None = None, zone: str | None = None,
       device: str | None = None, heritage: bool = False, ts_ms: int = NOW_MS,
       phase: str = "start", duration_s: float | None = None, detail: str = "") -> Event:
    return Event(kind=kind, site=SITE, ts_ms=ts_ms, severity=severity,  # type: ignore[arg-type]
                 value=value, threshold=threshold, unit=unit,  # type: ignore[arg-type]
                 phase=phase, device=device, tree=tree,  # type: ignore[arg-type]
                 zone=zone, heritage=heritage, duration_s=duration_s, detail=detail)


def tasks(out: list) -> list[Task]:
    return [a for a in out if isinstance(a, Task)]


def alerts(out: list) -> list[Alert]:
    return [a for a in out if isinstance(a, Alert)]


def test_healthy_swaying_tree_gives_nothing() -> None:
    sway = [ev("sway", "info", value=0.6, threshold=2.0, tree="t001", device="tilt-t001"),
            ev("sway", "warning", value=2.5, threshold=2.0, tree="t001")]
    assert decide(sway, CTX) == []
    assert decide([], CTX) == []
    # an ordinary tree's info-level lean is within its normal range: no task either
    assert decide([ev("lean", "info", tree="t001")], CTX) == []


@pytest.mark.parametrize(("kind", "severity", "tree", "task_kind", "priority", "alert_sev"), [
    ("failure", "critical", "t007", "remove", 1, "critical"),
    ("failure", "warning", "t007", "remove", 1, "critical"),
    ("lean_step", "warning", "t007", "stabilize", 2, "warning"),
    ("lean_step", "critical", "t007", "stabilize", 1, "critical"),
    ("lean", "critical", "t007", "stabilize", 1, "critical"),
    ("lean", "warning", "t007", "inspect", 3, "warning"),
    ("lean_trend", "warning", "t007", "inspect", 3, "warning"),
    ("lean_trend", "critical", "t007", "stabilize", 1, "critical"),
    # heritage: one priority higher (its stricter thresholds live in analytics)
    ("lean", "warning", "h001", "inspect", 2, "warning"),
    ("lean_step", "warning", "h001", "stabilize", 1, "warning"),
    ("failure", "critical", "h001", "remove", 1, "critical"),
])
def test_lean_levels_to_tasks(kind: str, severity: str, tree: str, task_kind: str,
                              priority: int, alert_sev: str) -> None:
    out = decide([ev(kind, severity, tree=tree, device=f"tilt-{tree}")], CTX)
    assert len(out) == 2
    task, alert = out
    assert isinstance(task, Task) and isinstance(alert, Alert)
    assert (task.kind, task.priority, task.tree, task.site) == (task_kind, priority, tree, SITE)
    assert task.dedup_key == f"{task_kind}:{SITE}:{tree}"
    assert task.heritage is tree.startswith("h")
    assert task.reasons and task.reasons[0].startswith(f"{kind} 1 deg vs threshold 0.5 deg")
    assert (alert.severity, alert.task_key, alert.dedup_key) == (alert_sev, task.dedup_key,
                                                                 task.dedup_key)
    assert alert.kind == kind and alert.tree == tree and alert.value == 1.0
    assert f"priority {priority}" in alert.message


def test_heritage_flag_on_the_event_alone_bumps() -> None:
    out = decide([ev("lean", "warning", tree="t001", heritage=True)], CTX)
    assert tasks(out)[0].priority == 2
    assert "heritage tree" in tasks(out)[0].reasons[-1]


def test_dedup_key_is_stable_and_one_task_per_condition() -> None:
    repeated = [ev("lean", "warning", tree="t007", ts_ms=NOW_MS + i * 60_000, value=0.6 + i / 100)
                for i in range(5)]
    out = decide(repeated, CTX)
    assert [type(a) for a in out] == [Task, Alert]
    again = decide(repeated[:1], CTX)
    assert tasks(again)[0].dedup_key == tasks(out)[0].dedup_key == "inspect:estate-a:t007"


def test_most_urgent_task_wins_within_a_call_and_order_is_by_priority() -> None:
    out = decide([
        ev("low_battery", "warning", value=3.3, threshold=3.4, unit="V", device="soil-1"),
        ev("lean_step", "warning", tree="t007"),
        ev("lean_step", "critical", tree="t007", ts_ms=NOW_MS + 1),
        ev("lean", "warning", tree="h001"),
        ev("lean", "warning", tree="t001"),
    ], CTX)
    got = [(t.kind, t.subject, t.priority) for t in tasks(out)]
    assert got == [("stabilize", "t007", 1), ("inspect", "h001", 2), ("inspect", "t001", 3),
                   ("device_check", "soil-1", 4)]
    # each task is followed by its own alert
    for i, a in enumerate(out):
        if isinstance(a, Task):
            assert isinstance(out[i + 1], Alert) and out[i + 1].task_key == a.dedup_key
    assert alerts(out)[0].severity == "critical"


@pytest.mark.parametrize(("hours", "value", "severity", "priority"), [
    (None, 48.0, "warning", 3),
    (None, 55.0, "critical", 2),
    (13.0, 48.0, "warning", 3),
    (30.0, 48.0, "warning", 3),      # the soil stage escalates (critical) at twice its limit
])
def test_waterlog_drain_priority_by_hours(hours: float | None, value: float, severity: str,
                                          priority: int) -> None:
    """The duration is a typed field in seconds; the value stays the zone's VWC [%] (the
    old contract read hours from the unit, which analytics never sent)."""
    out = decide([ev("waterlog", severity, value=value, threshold=45.0, unit="vwc_pct",
                     zone="z02", duration_s=None if hours is None else hours * 3600)], CTX)
    (task,) = tasks(out)
    assert (task.kind, task.priority, task.zone, task.dedup_key) == (
        "drain", priority, "z02", f"drain:{SITE}:z02")
    assert len(alerts(out)) == 1


def test_storm_start_is_a_site_alert_only() -> None:
    out = decide([ev("storm", "critical", value=33.0, threshold=20.0, unit="m/s",
                     device="wx-1")], CTX)
    assert len(out) == 1
    a = out[0]
    assert isinstance(a, Alert)
    assert (a.kind, a.severity, a.dedup_key, a.tree) == ("storm", "critical",
                                                         f"storm:{SITE}", None)


def test_after_the_storm_every_tree_of_the_site_is_swept_heritage_first() -> None:
    out = decide([ev("storm", "info", value=8.0, threshold=20.0, unit="m/s",
                     phase="clear")], CTX)
    got = [(t.kind, t.tree, t.priority, t.heritage) for t in tasks(out)]
    # every tree of the site (not "other"); without tree state heritage ranks first
    assert got == [("inspect", "h001", 2, True), ("inspect", "h002", 2, True),
                   ("inspect", "t001", 3, False), ("inspect", "t007", 3, False)]
    assert all("post-storm sweep" in t.title for t in tasks(out))
    assert f"storm_over:{SITE}" in [a.dedup_key for a in alerts(out)]


def test_post_storm_sweep_ranks_leaning_trees_first_from_the_tree_state() -> None:
    trees = TreeRiskState(
        ts_ms=NOW_MS, site=np.array([SITE] * 3, dtype=object),
        device=np.array(["d1", "d7", "dh1"], dtype=object),
        tree=np.array(["t001", "t007", "h001"], dtype=object),
        heritage=np.array([False, False, True]), baseline_ok=np.ones(3, bool),
        lean_deg=np.array([0.02, 0.2, 0.01]), lean_level=np.array([0, 1, 0], np.int8),
        step_level=np.zeros(3, np.int8), trend_level=np.zeros(3, np.int8),
        failure_level=np.zeros(3, np.int8))
    out = decide([ev("storm", "info", value=8.0, threshold=20.0, unit="m/s",
                     phase="clear")], CTX, trees=trees)
    order = [t.tree for t in tasks(out)]
    assert order[0] == "t007"  # the tree that moved, above the heritage tree that did not
    assert set(order) == {"t001", "t007", "h001", "h002"}


def test_sweep_leaves_a_tree_with_a_lean_task_to_that_task() -> None:
    out = decide([ev("storm", "info", value=8.0, threshold=20.0, unit="m/s", phase="clear"),
                  ev("lean_storm", "warning", tree="t001")], CTX)
    t001 = [t for t in tasks(out) if t.tree == "t001"]
    assert [(t.kind, t.priority) for t in t001] == [("stabilize", 2)]


def test_queue_orders_by_severity_whatever_the_heritage_bump() -> None:
    out = decide([ev("lean", "warning", tree="h001", heritage=True),
                  ev("lean_step", "warning", tree="h002", heritage=True),
                  ev("lean", "critical", tree="t001"),
                  ev("failure", "critical", tree="t007")], CTX)
    got = [(t.severity, t.tree) for t in tasks(out)]
    assert [g[0] for g in got] == ["critical", "critical", "warning", "warning"]
    assert got[0][1] == "t001" or got[0][1] == "t007"


def test_a_forecast_typhoon_triggers_a_ranked_pre_storm_sweep() -> None:
    assert decide_forecast(StormForecast(SITE, NOW_MS, max_wind_ms=12.0), CTX) == []
    out = decide_forecast(StormForecast(SITE, NOW_MS, signal=8), CTX)
    assert [t.tree for t in tasks(out)] == ["h001", "h002", "t001", "t007"]
    assert all("pre-storm sweep" in t.title for t in tasks(out))
    assert alerts(out)[0].dedup_key == f"storm_forecast:{SITE}"


@pytest.mark.parametrize(("kind", "severity", "task_kind", "priority"), [
    ("lean_storm", "warning", "stabilize", 2), ("lean_storm", "critical", "stabilize", 1),
    ("stiffness", "warning", "inspect", 3), ("mount_moved", "warning", "device_check", 4)])
def test_storm_time_and_mount_findings(kind: str, severity: str, task_kind: str,
                                       priority: int) -> None:
    out = decide([ev(kind, severity, tree="t001", device="tilt-t001")], CTX)
    assert [(t.kind, t.priority) for t in tasks(out)] == [(task_kind, priority)]
    assert decide([ev(kind, "info", tree="t001", device="tilt-t001")], CTX) == [] or \
        kind == "mount_moved"


def test_sweep_and_lean_on_the_same_tree_keep_the_more_urgent() -> None:
    out = decide([ev("storm", "info", value=8.0, threshold=20.0, unit="m/s", phase="clear"),
                  ev("lean", "warning", tree="h001")], CTX)
    inspect_h001 = [t for t in tasks(out) if t.tree == "h001"]
    assert len(inspect_h001) == 1


@pytest.mark.parametrize(("kind", "severity"), [
    ("device_offline", "warning"), ("low_battery", "info"), ("sensor_stuck", "critical")])
def test_device_health_gives_a_p4_check_and_an_alert(kind: str, severity: str) -> None:
    out = decide([ev(kind, severity, value=3600, threshold=900, unit="s", device="tilt-t9")], CTX)
    task, alert = out
    assert isinstance(task, Task) and isinstance(alert, Alert)
    assert (task.kind, task.priority, task.dedup_key) == (
        "device_check", 4, f"device_check:{SITE}:tilt-t9")
    assert (alert.kind, alert.severity, alert.device) == (kind, severity, "tilt-t9")


def test_decide_is_pure() -> None:
    events = [ev("failure", "critical", tree="t007"),
              ev("storm", "info", value=1, threshold=2, phase="clear"),
              ev("drought", value=12.0, threshold=18.0, unit="vwc_pct", zone="z02")]
    first = decide(events, CTX)
    assert decide(list(reversed(events)), CTX) == first
    assert all(dataclasses.is_dataclass(a) for a in first)


@pytest.mark.parametrize(("phase", "value", "ended"), [
    ("start", 25.0, False),
    ("escalate", 33.0, False),
    ("start", 0.1, False),  # a sway-judged onset below the wind threshold still started
    ("clear", 12.0, True),
    ("clear", 30.0, True),  # the phase says it, whatever the value
])
def test_storm_phase_is_a_typed_field(phase: str, value: float, ended: bool) -> None:
    out = decide([ev("storm", "warning", value=value, threshold=20.0, unit="m/s",
                     phase=phase, detail="ended" if not ended else "started")], CTX)
    assert bool(tasks(out)) is ended
    assert [a.dedup_key for a in alerts(out) if a.task_key is None] == [
        f"storm_over:{SITE}" if ended else f"storm:{SITE}"]


def test_a_cleared_condition_opens_nothing() -> None:
    for kind in ("lean", "lean_step", "waterlog", "device_offline"):
        assert decide([ev(kind, "critical", tree="t001", zone="z02", device="d1",
                          phase="clear")], CTX) == []


def test_info_lean_step_is_a_note_not_a_task() -> None:
    """An info-level step (0.05 deg on a swaying heritage tree) sent crews before: never."""
    assert decide([ev("lean_step", "info", value=0.05, threshold=0.05, tree="h001")], CTX) == []
    (task,) = tasks(decide([ev("lean_step", "warning", tree="h001")], CTX))
    assert (task.kind, task.priority) == ("stabilize", 1)  # heritage: one priority higher


def test_info_lean_is_no_task_even_for_a_heritage_tree() -> None:
    """Analytics already applies the stricter heritage thresholds; an info-level lean or trend
    (within noise of a cheap sensor) must not send a crew to an ancient tree either."""
    for kind in ("lean", "lean_trend"):
        assert decide([ev(kind, "info", tree="h001", device="tilt-h001")], CTX) == []


def test_a_device_the_registry_does_not_list_gets_a_notice_not_a_crew_task() -> None:
    ctx = dataclasses.replace(CTX, devices=(DeviceBinding(SITE, "soil-1", "soil", zone="z02"),))
    faults = [ev("device_offline", device="junk-9", unit="s"),
              ev("clock_fault", device="junk-9", unit="s"),
              ev("low_battery", device="soil-1", unit="V")]
    out = decide(faults, ctx)
    assert [(t.kind, t.device) for t in tasks(out)] == [("device_check", "soil-1")]
    notices = [a for a in alerts(out) if a.device == "junk-9"]
    assert len(notices) == 1  # one per device, whatever its faults
    (n,) = notices
    assert n.severity == "info" and n.task_key is None
    assert n.dedup_key == f"unregistered:{SITE}:junk-9" and "unregistered" in n.message
    # a site whose devices the registry does not list at all: every device is checked
    out = decide(faults, CTX)
    assert sorted(t.device for t in tasks(out)) == ["junk-9", "soil-1"]
