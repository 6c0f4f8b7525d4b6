"""ActionExecutor end to end: rules → registry (real SQLite) → broker (real Mosquitto)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from greeniot import protocol
from greeniot.actions.executor import ActionExecutor, Outcome
from greeniot.actions.rules import decide
from greeniot.actions.valves import ValveCommander
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.contract import Event, TickResult, TreeRiskState, ZoneWaterState
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.config import MqttSettings
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo
from greeniot.registry import crud
from greeniot.services import MosquittoProcess
from greeniot.transport.mqtt import MqttSession
from tests.actions.conftest import Clock
from tests.helpers import Observer, apoll, poll

T = TypeVar("T")
H_S = 3600


def estate(site: str) -> EstateContext:
    return EstateContext(
        trees=(TreeInfo(site, "t007"), TreeInfo(site, "h001", heritage=True)),
        zones=(ZoneInfo(site, "z02", valve_device="valve-z02", max_run_s=600,
                        min_interval_s=6 * H_S, daily_max_s=3600),),
    )


def event(site: str, kind: str, severity: str, ts_ms: int, **kw: object) -> Event:
    base: dict[str, object] = {"value": 1.0, "threshold": 0.5, "unit": "deg"}
    base.update(kw)
    return Event(kind=kind, site=site, ts_ms=ts_ms, severity=severity, **base)  # type: ignore[arg-type]


def drought(site: str, ts_ms: int, vwc_pct: float = 12.5) -> TickResult:
    """A tick whose zone water state says zone z02 is dry (what the soil stage publishes)."""
    zones = ZoneWaterState(
        ts_ms=ts_ms, site=np.array([site], dtype=object), zone=np.array(["z02"], dtype=object),
        device=np.array([None], dtype=object), vwc_pct=np.array([vwc_pct]),
        n_probes=np.array([1]), refill_vwc_pct=np.array([18.0]), hours_above=np.array([0.0]),
        newest_ts_ms=np.array([ts_ms]), drought_level=np.array([2], np.int8),
        waterlog_level=np.array([0], np.int8))
    return TickResult([], zones, TreeRiskState(ts_ms))


def run_executor(broker: MosquittoProcess, sessions, clock: Clock,
                 body: Callable[[ActionExecutor], Awaitable[T]], timeout_s: float = 10.0) -> T:
    async def main() -> T:
        async with MqttSession(MqttSettings(port=broker.port), "test-executor",
                               clean_session=True, connect_timeout_s=timeout_s,
                               publish_timeout_s=timeout_s) as p:
            commander = ValveCommander(sessions, p.send, clock)
            return await body(ActionExecutor(sessions, p.send, commander, clock))
    return asyncio.run(main())


def alerts_on(obs: Observer) -> list[protocol.Alert]:
    return [protocol.Alert.model_validate(json.loads(m.payload)) for m in obs.on("/alerts")]


def test_failure_and_storm_open_a_task_and_publish_linked_alerts(
        mosquitto, observe, sessions, clock: Clock, site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/alerts"])
    ctx = estate(site_id)
    events = [event(site_id, "failure", "critical", clock.now_ms, value=35.0, threshold=10.0,
                    tree="t007", device="tilt-t007"),
              event(site_id, "storm", "critical", clock.now_ms, value=33.0, threshold=20.0,
                    unit="m/s", device="wx-1")]

    out = run_executor(mosquitto, sessions, clock,
                       lambda ex: ex.apply(decide(events, ctx)))

    assert [(o.kind, o.ok, o.new) for o in out] == [("task", True, True), ("alert", True, True),
                                                   ("alert", True, True)]
    task_id = out[0].ref
    assert isinstance(task_id, int)
    assert out[0].line.startswith(f"TASK #{task_id} remove tree t007 p1: failure 35 deg")
    assert out[1].line.startswith(f"ALERT critical failure tree t007 task #{task_id}: remove "
                                  "tree t007")
    assert out[2].line.startswith("ALERT critical storm device wx-1: storm at site")
    with sessions() as s:
        (task,) = crud.list_tasks(s, site=site_id)
        assert (task.id, task.kind, task.priority, task.tree, task.state, task.dedup_key) == (
            task_id, "remove", 1, "t007", "open", f"remove:{site_id}:t007")
        assert task.reason.startswith("failure 35 deg vs threshold 10 deg (critical)")
        rows = {a.kind: a for a in crud.list_alerts(s, site=site_id)}
        assert set(rows) == {"failure", "storm"}
        assert rows["failure"].task_id == task_id and rows["storm"].task_id is None
    published = poll(lambda: len(obs.on("/alerts")) >= 2 and alerts_on(obs), what="2 alerts")
    assert len(published) == 2
    by_kind = {a.kind: a for a in published}
    assert by_kind["failure"].id == rows["failure"].id
    assert by_kind["failure"].task_id == task_id and by_kind["failure"].tree == "t007"
    assert (by_kind["storm"].severity, by_kind["storm"].value) == ("critical", 33.0)


def test_repeats_fold_into_open_records_and_are_not_republished(
        mosquitto, observe, sessions, clock: Clock, site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/alerts"])
    ctx = estate(site_id)
    lean = [event(site_id, "lean_step", "warning", clock.now_ms, tree="h001")]
    marker = [event(site_id, "low_battery", "info", clock.now_ms, value=3.3, threshold=3.4,
                    unit="V", device="soil-9")]

    async def body(ex: ActionExecutor) -> list[list[Outcome]]:
        first = await ex.apply(decide(lean, ctx))
        clock.advance(60)
        second = await ex.apply(decide(lean, ctx))
        third = await ex.apply(decide(marker, ctx))  # same connection, later
        return [first, second, third]

    first, second, _third = run_executor(mosquitto, sessions, clock, body)
    assert [o.new for o in first] == [True, True]
    assert [o.new for o in second] == [False, False]
    assert second[0].ref == first[0].ref and second[1].ref == first[1].ref
    assert "(already open as p1)" in second[0].line
    assert second[1].line.endswith(f"repeat #2 of {first[1].ref}")
    # The marker alert was published after the repeat on the same connection (in order):
    # once it has arrived, a republished repeat would have arrived before it.
    poll(lambda: any(a.kind == "low_battery" for a in alerts_on(obs)), what="marker alert")
    assert [a.kind for a in alerts_on(obs)] == ["lean_step", "low_battery"]
    with sessions() as s:
        assert len(crud.list_tasks(s, site=site_id)) == 2
        lean_alert = crud.find_open_alert(s, dedup_key=f"stabilize:{site_id}:h001")
        assert lean_alert is not None and lean_alert.count == 2


def test_a_severity_rise_is_republished(mosquitto, observe, sessions, clock: Clock,
                                        site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/alerts"])
    ctx = estate(site_id)

    def storm(sev: str, gust: float) -> list[Event]:
        return [event(site_id, "storm", sev, clock.now_ms, value=gust, threshold=20.0,
                      unit="m/s")]

    async def body(ex: ActionExecutor) -> list[Outcome]:
        out = await ex.apply(decide(storm("warning", 22.0), ctx))
        clock.advance(600)
        return out + await ex.apply(decide(storm("critical", 35.0), ctx))

    out = run_executor(mosquitto, sessions, clock, body)
    assert out[0].ref == out[1].ref and "escalated" in out[1].line
    got = poll(lambda: len(obs.on("/alerts")) >= 2 and alerts_on(obs), what="2 storm alerts")
    assert [(a.id, a.severity, a.value) for a in got] == [(out[0].ref, "warning", 22.0),
                                                         (out[0].ref, "critical", 35.0)]


@pytest.mark.parametrize(("weather", "forecast_mm", "words"), [
    ({"rain_mm": 8.0, "air_temp_c": 15.0}, 0.0, "recent rain: 8.0 mm"),
    ({"rain_mm": 0.0, "air_temp_c": -1.5}, 0.0, "freezing: air -1.5 °C"),
    ({"rain_mm": 0.0, "air_temp_c": 15.0}, 12.0, "rain forecast: 12.0 mm"),
])
def test_no_valve_command_for_a_wet_rained_on_or_freezing_zone(
        mosquitto, observe, sessions, clock: Clock, site_id: str, weather: dict,
        forecast_mm: float, words: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/#"])
    ctx = estate(site_id)

    async def body(ex: ActionExecutor) -> list[Outcome]:
        ex.observe_weather(site_id, protocol.WeatherReading(
            seq=1, ts_ms=clock.now_ms - 600_000, wind_ms=3.0, **weather))
        ex.zones.set_forecast(site_id, forecast_mm)
        return await ex.tick(drought(site_id, clock.now_ms), ctx)

    out = run_executor(mosquitto, sessions, clock, body)
    assert [(o.kind, o.new) for o in out] == [("alert", True)]
    assert out[0].line.startswith("ALERT info irrigation_skipped zone z02: irrigation "
                                  "of zone z02 skipped")
    assert words in out[0].line
    (alert,) = poll(lambda: alerts_on(obs), what="the skip alert")
    assert (alert.kind, alert.severity, alert.zone) == ("irrigation_skipped", "info", "z02")
    assert obs.on("/cmd") == []  # the alert went out after any command would have
    with sessions() as s:
        assert list(crud.list_commands(s, site=site_id)) == []


class ValveNode:
    """A stand-in valve node on the real broker: acks every command and reports its state."""

    def __init__(self, port: int, site: str, device: str) -> None:
        self.base = f"greeniot/v1/{site}/{device}"
        self.seq = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"node-{device}-{site}")
        self.client.on_connect = lambda c, *a: c.subscribe(f"{self.base}/cmd", 1)
        self.client.on_message = self._on_cmd
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_cmd(self, client: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        cmd = protocol.Command.model_validate(json.loads(msg.payload))
        self.seq += 1
        state = "open" if cmd.op == "open" else "closed"
        client.publish(f"{self.base}/ack", protocol.encode(protocol.Ack(
            id=cmd.id, seq=self.seq, ts_ms=cmd.ts_ms + 200, ok=True, state=state)), qos=1)
        self.seq += 1
        client.publish(f"{self.base}/valve", protocol.encode(protocol.ValveEvent(
            seq=self.seq, ts_ms=cmd.ts_ms + 200, state=state, cause="cmd", cmd_id=cmd.id)),
            qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def await_messages(obs: Observer, suffix: str, count: int, timeout_s: float = 10.0
                         ) -> list[paho.MQTTMessage]:
    await apoll(lambda: len(obs.on(suffix)) >= count, timeout_s=timeout_s, interval_s=0.01,
                what=f"{count} messages on *{suffix}")
    return obs.on(suffix)


def test_drought_cycle_with_a_valve_node(mosquitto, observe, sessions, clock: Clock,
                                         site_id: str) -> None:
    """drought → open cmd → node acks → no second open while open → closed by max_run →
    no new open within the minimum interval (skip alert instead)."""
    ctx = estate(site_id)
    up = observe([f"greeniot/v1/{site_id}/valve-z02/ack", f"greeniot/v1/{site_id}/valve-z02/valve"])
    node = ValveNode(mosquitto.port, site_id, "valve-z02")

    async def body(ex: ActionExecutor) -> dict[str, list[Outcome]]:
        steps: dict[str, list[Outcome]] = {}
        ex.observe_weather(site_id, protocol.WeatherReading(seq=1, ts_ms=clock.now_ms,
                                                            wind_ms=1.0, air_temp_c=24.0))
        steps["open"] = await ex.tick(drought(site_id, clock.now_ms), ctx)
        # The tick while the command is in flight says nothing and sends nothing.
        steps["in_flight"] = await ex.tick(drought(site_id, clock.now_ms), ctx)
        (ack_msg,) = await await_messages(up, "/ack", 1)
        (valve_msg,) = await await_messages(up, "/valve", 1)
        ack = protocol.Ack.model_validate(json.loads(ack_msg.payload))
        steps["ack"] = [o for o in [await ex.observe(site_id, "valve-z02", ack)] if o]
        await ex.observe(site_id, "valve-z02",
                         protocol.ValveEvent.model_validate(json.loads(valve_msg.payload)))
        clock.advance(300)
        steps["while_open"] = await ex.tick(drought(site_id, clock.now_ms), ctx)
        clock.advance(300)
        ex.observe_valve(site_id, "valve-z02", protocol.ValveEvent(
            seq=99, ts_ms=clock.now_ms, state="closed", cause="max_run", open_s=600.0))
        clock.advance(H_S)
        steps["too_soon"] = await ex.tick(drought(site_id, clock.now_ms), ctx)
        return steps

    try:
        steps = run_executor(mosquitto, sessions, clock, body)
    finally:
        node.close()

    (opened,) = steps["open"]
    cmd_id = opened.ref
    assert opened.kind == "valve" and opened.ok
    assert opened.line.startswith(f"VALVE cmd {cmd_id} open valve-z02 600s zone z02: soil "
                                  "moisture 12.5 % (median of 1 probe(s)) below refill point 18 %")
    assert steps["in_flight"] == []
    assert [o.line for o in steps["ack"]] == [f"VALVE ack {cmd_id} acked valve-z02 valve open"]
    assert steps["while_open"] == []
    (skip,) = steps["too_soon"]
    assert skip.kind == "alert" and "last irrigation ended 60 min ago" in skip.line
    with sessions() as s:
        (cmd,) = crud.list_commands(s, site=site_id)
        assert (cmd.id, cmd.state, cmd.valve_state, cmd.op, cmd.max_run_s, cmd.zone) == (
            cmd_id, "acked", "open", "open", 600, "z02")


def test_alert_is_recorded_even_when_it_cannot_be_delivered(
        gone_broker: MosquittoProcess, sessions, clock: Clock, site_id: str) -> None:
    ctx = estate(site_id)
    events = [event(site_id, "lean", "warning", clock.now_ms, tree="t007")]

    async def body(ex: ActionExecutor) -> list[Outcome]:
        gone_broker.stop()
        return await ex.apply(decide(events, ctx))

    task, alert = run_executor(gone_broker, sessions, clock, body, timeout_s=1.0)
    assert task.ok and task.new
    assert not alert.ok and alert.new and "NOT delivered" in alert.line
    with sessions() as s:
        (row,) = crud.list_alerts(s, site=site_id)
        assert row.id == alert.ref and row.task_id == task.ref


@pytest.mark.parametrize(("ok", "kw", "line"), [
    (True, {"state": "open"}, "VALVE ack c-1 acked valve-z02 valve open"),
    (False, {"reason": "expired"}, "VALVE ack c-1 refused valve-z02: expired"),
])
def test_ack_outcome_line(ok: bool, kw: dict, line: str) -> None:
    o = Outcome.for_ack("s", "valve-z02", protocol.Ack(id="c-1", seq=1, ts_ms=1_795_510_737_944,
                                                       ok=ok, **kw))
    assert (str(o), o.ok, o.kind, o.ref) == (line, ok, "valve", "c-1")


def test_executor_refuses_a_tracker_the_commander_does_not_share(sessions, clock) -> None:
    async def publish(topic: str, payload: bytes, qos: int) -> None:
        raise AssertionError("not called")

    commander = ValveCommander(sessions, publish, clock)
    with pytest.raises(ValueError, match="commander's tracker"):
        ActionExecutor(sessions, publish, commander, clock, tracker=ZoneTracker())
    assert ActionExecutor(sessions, publish, commander, clock,
                          tracker=commander.tracker).zones is commander.tracker


def test_a_skipped_drought_is_watered_once_the_rain_lockout_lapses(
        mosquitto, observe, sessions, clock: Clock, site_id: str) -> None:
    """From probe readings through the real soil stage: the zone stays dry in the water state,
    so once the rain lockout lapses it is watered — and nothing more once the probes read
    wet, or while they are silent (no fresh evidence)."""
    obs = observe([f"greeniot/v1/{site_id}/+/cmd"])
    base = estate(site_id)
    ctx = EstateContext(devices=(DeviceBinding(site_id, "soil-z02", "soil", zone="z02"),),
                        trees=base.trees, zones=base.zones)
    engine = AnalyticsEngine(ctx)
    seq = iter(range(10_000))

    def probe(vwc: float, hours: float) -> None:
        """Readings every 15 min over the last ``hours`` up to the clock, at ``vwc`` %."""
        for k in range(int(hours * 4), -1, -1):
            engine.ingest(site_id, "soil-z02", protocol.SoilReading(
                seq=next(seq), ts_ms=clock.now_ms - k * 900_000, vwc_pct=vwc))

    async def step(ex: ActionExecutor) -> list[Outcome]:
        return await ex.tick(engine.tick(clock.now_ms), ctx)

    async def body(ex: ActionExecutor) -> list[list[Outcome]]:
        ex.observe_weather(site_id, protocol.WeatherReading(seq=1, ts_ms=clock.now_ms,
                                                            wind_ms=1.0, rain_mm=9.0))
        probe(12.5, 3)
        steps = [await step(ex)]
        clock.advance(H_S)
        probe(12.4, 1)
        steps.append(await step(ex))  # still raining-locked: a repeat, not republished
        clock.advance(24 * H_S)
        probe(12.0, 3)
        steps.append(await step(ex))  # rain out of the 24 h window: water
        clock.advance(7 * H_S)
        probe(24.0, 3)
        steps.append(await step(ex))  # refilled: the state clears, nothing
        clock.advance(7 * H_S)
        steps.append(await step(ex))  # probes silent for 7 h: no fresh evidence, nothing
        return steps

    skipped, repeat, watered, refilled, quiet = run_executor(mosquitto, sessions, clock, body)
    assert [(o.kind, o.new) for o in skipped] == [("alert", True)]
    assert "recent rain" in skipped[0].line
    assert [(o.kind, o.new) for o in repeat] == [("alert", False)]
    (valve,) = watered
    assert valve.kind == "valve" and valve.ok
    assert "soil moisture 12.0 % (median of 1 probe(s)) below refill point 18 %" in valve.line
    # no node in this test: the command expires (reported once), and nothing else happens
    assert [o.line for o in refilled] == [f"VALVE cmd {valve.ref} expired without an ack"]
    # the silent probe waters nothing; health notices it is silent
    assert [o.kind for o in quiet] == ["task", "alert"] and "device_offline" in quiet[0].line
    (cmd_msg,) = poll(lambda: obs.on("/cmd"), what="the open command")
    assert protocol.Command.model_validate(json.loads(cmd_msg.payload)).id == valve.ref
