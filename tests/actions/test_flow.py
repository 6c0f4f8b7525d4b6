"""Flow findings from the simulated valve's own readings (pure; the broker path is in
tests/firmware/test_flow_node.py and tests/simulators/test_valve_flow_mqtt.py)."""

from __future__ import annotations

from greeniot.actions.flow import FlowJudge, FlowParams, flow_actions, nominal_l_min
from greeniot.actions.plan import Alert, Task
from greeniot.estate import ZoneInfo
from greeniot.protocol import FlowReading, ValveEvent
from greeniot.simulators.valve import SimValveNode

S, V = "estate-a", "v-1"
T0 = 1_795_510_000_000
ZONE = ZoneInfo(S, "z1", valve_device=V, application_rate_mm_h=12.0, area_m2=100.0)


def node() -> SimValveNode:
    seq = iter(range(1_000_000))
    return SimValveNode(next_seq=lambda: next(seq), flow_lpm=20.0, flow_report_s=10.0)


def cmd(op: str, at: int, run_s: int | None = 600, cid: str = "c1") -> bytes:
    body = f'{{"v":1,"id":"{cid}","ts_ms":{at},"deadline_ms":{at + 60_000},"op":"{op}"'
    return (body + (f',"max_run_s":{run_s}}}' if op == "open" else "}")).encode()


def run(judge: FlowJudge, valve: SimValveNode, t0: int, seconds: int, zone: ZoneInfo = ZONE
        ) -> list[str]:
    """Tick the node every 5 s, pass what it reports to the judge; the findings' kinds."""
    kinds = []
    for k in range(1, seconds // 5 + 1):
        for m in valve.tick(t0 + k * 5000):
            if isinstance(m, ValveEvent):
                judge.observe_valve(S, V, m)
            elif isinstance(m, FlowReading):
                kinds += [f.kind for f in judge.observe(S, V, m, zone)]
    return kinds


def open_valve(judge: FlowJudge, valve: SimValveNode, at: int) -> None:
    for m in valve.on_command(cmd("open", at), at):
        if isinstance(m, ValveEvent):
            judge.observe_valve(S, V, m)


def test_nominal_flow_is_rate_times_area() -> None:
    assert nominal_l_min(ZONE) == 20.0  # 12 mm/h on 100 m2 = 1200 L/h
    assert nominal_l_min(ZoneInfo(S, "z")) is None


def test_a_healthy_run_gives_no_finding_and_teaches_the_valve_its_flow() -> None:
    j, v = FlowJudge(), node()
    open_valve(j, v, T0)
    assert run(j, v, T0, 300) == []
    assert j.expected_l_min(S, V, None) == 20.0  # learned: no zone needed any more


def test_burst_is_found_at_the_first_reading_after_filling() -> None:
    j, v = FlowJudge(), node()
    v.inject("burst")
    open_valve(j, v, T0)
    kinds = run(j, v, T0, 60)
    assert kinds[:1] == ["flow_burst"]


def test_fill_grace_then_no_flow_needs_two_readings_and_fires_once() -> None:
    j, v = FlowJudge(), node()
    v.inject("no_flow")
    open_valve(j, v, T0)
    kinds = run(j, v, T0, 120)
    assert kinds == ["flow_none"]


def test_low_flow_and_leak_while_closed() -> None:
    j, v = FlowJudge(), node()
    v.inject("low_flow")
    open_valve(j, v, T0)
    assert run(j, v, T0, 120) == ["flow_low"]
    j2, v2 = FlowJudge(), node()
    open_valve(j2, v2, T0)
    run(j2, v2, T0, 120)
    for m in v2.on_command(cmd("close", T0 + 121_000, cid="c2"), T0 + 121_000):
        if isinstance(m, ValveEvent):
            j2.observe_valve(S, V, m)
    v2.inject("leak")
    assert run(j2, v2, T0 + 121_000, 300) == ["flow_leak"]  # after the drain grace, once


def test_a_clean_close_drains_without_a_leak_finding() -> None:
    j = FlowJudge(FlowParams(drain_s=60))
    j.observe_valve(S, V, ValveEvent(seq=1, ts_ms=T0, state="closed", cause="cmd"))
    r = FlowReading(seq=2, ts_ms=T0 + 20_000, flow_l_min=3.0, total_l=1.0, valve="closed")
    assert j.observe(S, V, r, ZONE) == []  # the line draining through the meter


def test_findings_become_one_repair_task_per_valve_and_an_alert_each() -> None:
    j, v = FlowJudge(), node()
    v.inject("burst")
    open_valve(j, v, T0)
    for m in v.tick(T0 + 40_000):
        if isinstance(m, FlowReading):
            (f,) = j.observe(S, V, m, ZONE)
    task, alert = flow_actions(f)
    assert isinstance(task, Task) and isinstance(alert, Alert)
    assert (task.kind, task.priority, task.severity, task.dedup_key) == (
        "repair", 1, "critical", f"repair:{S}:{V}")
    assert alert.kind == "flow_burst" and alert.task_key == task.dedup_key
    assert "burst" in alert.message and alert.value == 60.0
