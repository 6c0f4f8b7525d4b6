"""The simulated valve's flow meter and its injectable faults."""

from __future__ import annotations

import pytest

from greeniot.protocol import FlowReading, ValveEvent, decode, encode
from greeniot.simulators.valve import SimValveNode

T0 = 1_795_510_000_000


def node(**kw: float) -> SimValveNode:
    seq = iter(range(1_000_000))
    return SimValveNode(next_seq=lambda: next(seq), flow_lpm=20.0, **kw)  # type: ignore[arg-type]


def open_cmd(at: int, run_s: int) -> bytes:
    return (f'{{"v":1,"id":"c1","ts_ms":{at},"deadline_ms":{at + 60000},"op":"open",'
            f'"max_run_s":{run_s}}}').encode()


def ticks(v: SimValveNode, t0: int, seconds: int, step_s: int = 5) -> list[object]:
    return [m for k in range(1, seconds // step_s + 1) for m in v.tick(t0 + k * step_s * 1000)]


@pytest.mark.parametrize(("fault", "share"), [(None, 1.0), ("burst", 3.0), ("low_flow", 0.3),
                                              ("no_flow", 0.0)])
def test_flow_while_open_and_the_runs_litres(fault: str | None, share: float) -> None:
    v = node(flow_report_s=10.0)
    v.inject(fault)  # type: ignore[arg-type]
    v.on_command(open_cmd(T0, 120), T0)
    out = ticks(v, T0, 180)
    flows = [m for m in out if isinstance(m, FlowReading) and m.valve == "open"]
    # every 10 s up to 110 s; at 120 s the valve closes first (its litres go with the close)
    assert len(flows) == 11 and all(m.flow_l_min == pytest.approx(20 * share) for m in flows)
    (close,) = [m for m in out if isinstance(m, ValveEvent)]
    assert close.cause == "max_run" and close.flow_l == pytest.approx(40 * share)
    assert flows[-1].total_l == pytest.approx(20 * share * 110 / 60, abs=0.01)
    for m in out:  # the payloads are valid on the wire
        assert decode(f"greeniot/v1/s/v/{'flow' if isinstance(m, FlowReading) else 'valve'}",
                      encode(m)).rejections == []  # type: ignore[arg-type]


def test_a_leak_is_reported_while_closed_and_a_dry_closed_valve_says_nothing() -> None:
    v = node(flow_report_s=10.0, leak_lpm=1.5)
    v.boot(T0)
    assert ticks(v, T0, 60) == []
    v.inject("leak")
    leaks = ticks(v, T0 + 60_000, 60)
    assert leaks and all(isinstance(m, FlowReading) and m.valve == "closed"
                         and m.flow_l_min == pytest.approx(1.5) for m in leaks)


def test_without_a_meter_only_the_close_carries_litres() -> None:
    v = node()
    v.on_command(open_cmd(T0, 60), T0)
    out = ticks(v, T0, 120)
    assert [type(m) for m in out] == [ValveEvent]
    assert out[0].flow_l == pytest.approx(20.0)  # type: ignore[attr-defined]
