"""ValveCommander against a real SQLite registry and the real Mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from greeniot.actions.valves import CommandError, ValveCommander
from greeniot.config import MqttSettings
from greeniot.protocol import Ack, Command
from greeniot.registry import crud
from greeniot.services import MosquittoProcess
from greeniot.transport.mqtt import MqttSession
from tests.actions.conftest import Clock
from tests.helpers import poll

T = TypeVar("T")


def run_with(broker: MosquittoProcess, body: Callable[[MqttSession], Awaitable[T]],
             timeout_s: float = 10.0) -> T:
    async def main() -> T:
        async with MqttSession(MqttSettings(port=broker.port), "test-valves", clean_session=True,
                               connect_timeout_s=timeout_s, publish_timeout_s=timeout_s) as p:
            return await body(p)
    return asyncio.run(main())


def ack(cmd_id: str, ts_ms: int, ok: bool = True, **kw: object) -> Ack:
    return Ack(id=cmd_id, seq=1, ts_ms=ts_ms, ok=ok, **kw)  # type: ignore[arg-type]


def test_send_records_publishes_and_marks_sent(mosquitto, observe, sessions, clock: Clock,
                                               site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/+/cmd"])

    async def body(pub: MqttSession) -> tuple[str, ValveCommander]:
        vc = ValveCommander(sessions, pub.send, clock)
        return await vc.send(site=site_id, device="valve-z02", op="open", max_run_s=600,
                             reason="dry", zone="z02"), vc

    cmd_id, vc = run_with(mosquitto, body)
    (msg,) = poll(lambda: obs.on("/cmd"), what="the command")
    assert msg.topic == f"greeniot/v1/{site_id}/valve-z02/cmd"
    assert msg.qos == 1 and not msg.retain
    cmd = Command.model_validate(json.loads(msg.payload))
    assert (cmd.id, cmd.op, cmd.max_run_s, cmd.ts_ms, cmd.deadline_ms) == (
        cmd_id, "open", 600, clock.now_ms, clock.now_ms + 60_000)
    with sessions() as s:
        row = crud.get_command(s, command_id=cmd_id)
        assert (row.state, row.site, row.device, row.zone, row.op, row.max_run_s,
                row.reason, row.created_ms, row.sent_ms, row.deadline_ms) == (
            "sent", site_id, "valve-z02", "z02", "open", 600, "dry", clock.now_ms,
            clock.now_ms, clock.now_ms + 60_000)
    st = vc.tracker.state(site_id, "valve-z02", clock.now_ms)
    assert st.pending_cmd == cmd_id


@pytest.mark.parametrize(("ok", "kw", "state", "valve_state", "reason"), [
    (True, {"state": "open"}, "acked", "open", None),
    (False, {"reason": "expired"}, "refused", None, "expired"),
])
def test_ack_settles_the_command(mosquitto, sessions, clock: Clock, site_id: str, ok: bool,
                                 kw: dict, state: str, valve_state: str | None,
                                 reason: str | None) -> None:
    async def body(pub: MqttSession) -> tuple[str, str | None, ValveCommander]:
        vc = ValveCommander(sessions, pub.send, clock)
        cmd_id = await vc.send(site=site_id, device="v1", op="open", max_run_s=60,
                               reason="test")
        got = await vc.handle_ack(site_id, "v1", ack(cmd_id, clock.now_ms + 150, ok, **kw))
        return cmd_id, got, vc

    cmd_id, got, vc = run_with(mosquitto, body)
    assert got == state
    with sessions() as s:
        row = crud.get_command(s, command_id=cmd_id)
        assert (row.state, row.valve_state, row.ack_reason, row.ack_ms) == (
            state, valve_state, reason, clock.now_ms + 150)
    st = vc.tracker.state(site_id, "v1", clock.now_ms + 200)
    assert st.pending_cmd is None
    assert st.valve_open is (valve_state == "open")


def test_unknown_or_misdirected_ack_changes_nothing(mosquitto, sessions, clock: Clock,
                                                    site_id: str) -> None:
    async def body(pub: MqttSession) -> tuple[str, list[str | None]]:
        vc = ValveCommander(sessions, pub.send, clock)
        cmd_id = await vc.send(site=site_id, device="v1", op="close", max_run_s=None,
                               reason="stop")
        return cmd_id, [await vc.handle_ack(site_id, "v1", ack("c-nope", clock.now_ms)),
                        await vc.handle_ack(site_id, "v9", ack(cmd_id, clock.now_ms))]

    cmd_id, got = run_with(mosquitto, body)
    assert got == [None, None]
    with sessions() as s:
        assert crud.get_command(s, command_id=cmd_id).state == "sent"


def test_expire_ends_commands_past_their_deadline(mosquitto, sessions, clock: Clock,
                                                  site_id: str) -> None:
    async def body(pub: MqttSession) -> tuple[str, list[str], list[str]]:
        vc = ValveCommander(sessions, pub.send, clock, deadline_s=30)
        cmd_id = await vc.send(site=site_id, device="v1", op="open", max_run_s=60,
                               reason="test")
        early = await vc.expire(clock.now_ms + 30_000)  # at the deadline: still waiting
        late = await vc.expire(clock.now_ms + 30_001)
        return cmd_id, early, late

    cmd_id, early, late = run_with(mosquitto, body)
    assert (early, late) == ([], [cmd_id])
    with sessions() as s:
        row = crud.get_command(s, command_id=cmd_id)
        assert (row.state, row.ack_reason) == ("expired", "no ack before the deadline")


def test_protocol_refusal_records_nothing(mosquitto, sessions, clock: Clock,
                                          site_id: str) -> None:
    async def body(pub: MqttSession) -> None:
        vc = ValveCommander(sessions, pub.send, clock)
        with pytest.raises(ValueError, match="requires max_run_s"):
            await vc.send(site=site_id, device="v1", op="open", max_run_s=None, reason="x")
        with pytest.raises(ValueError, match="invalid device id"):
            await vc.send(site=site_id, device="Valve 1", op="close", max_run_s=None,
                          reason="x")

    run_with(mosquitto, body)
    with sessions() as s:
        assert list(crud.list_commands(s, site=site_id)) == []


def test_publish_failure_is_recorded_as_failed(gone_broker: MosquittoProcess, sessions,
                                               clock: Clock, site_id: str) -> None:
    async def body(pub: MqttSession) -> ValveCommander:
        gone_broker.stop()  # connected, then the broker is gone: no PUBACK will come
        vc = ValveCommander(sessions, pub.send, clock)
        with pytest.raises(CommandError, match="publish failed: no PUBACK"):
            await vc.send(site=site_id, device="v1", op="open", max_run_s=60, reason="x")
        return vc

    vc = run_with(gone_broker, body, timeout_s=1.0)
    with sessions() as s:
        (row,) = crud.list_commands(s, site=site_id)
        assert row.state == "failed" and row.sent_ms is None
        assert "no PUBACK" in (row.ack_reason or "")
    assert vc.tracker.state(site_id, "v1", clock.now_ms).pending_cmd is None
