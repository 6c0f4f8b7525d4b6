"""The built-in valve node's logic, without a broker: acks, deadlines, duplicates, max run."""

from __future__ import annotations

import itertools

from greeniot.protocol import Ack, Command, DeviceConfig, ValveEvent, decode, encode
from greeniot.protocol.channels import channel_of

T0 = 1_795_000_000_000


def node(hard_cap_s: float = 3600.0):  # type: ignore[no-untyped-def]
    from greeniot.simulators.valve import SimValveNode

    seq = itertools.count()
    return SimValveNode(next_seq=lambda: next(seq), hard_cap_s=hard_cap_s, flow_lpm=30.0)


def cmd(cid: str, op: str = "open", *, ts: int = T0, deadline: int = T0 + 60_000,
        max_run_s: int | None = 600) -> bytes:
    return encode(Command(id=cid, ts_ms=ts, deadline_ms=deadline, op=op,  # type: ignore[arg-type]
                          max_run_s=max_run_s if op == "open" else None))


def valid(msgs: list) -> list:  # type: ignore[type-arg]
    """Every message the node makes is accepted by the backend's codec as it stands."""
    for m in msgs:
        d = decode(f"greeniot/v1/s/valve-z01/{channel_of(m).name}", encode(m))
        assert d.rejections == [] and len(d.messages) == 1
    return msgs


def test_boot_reports_closed() -> None:
    n = node()
    (ev,) = valid(n.boot(T0))
    assert isinstance(ev, ValveEvent) and (ev.state, ev.cause, ev.seq) == ("closed", "boot", 0)


def test_open_while_open_rearms_the_timer_under_the_new_id() -> None:
    n = node()
    n.on_command(cmd("c-1", max_run_s=600), T0)
    (ack,) = valid(n.on_command(cmd("c-2", max_run_s=300, deadline=T0 + 10**6), T0 + 500_000))
    assert (ack.id, ack.ok, ack.state) == ("c-2", True, "open")
    assert n.tick(T0 + 700_000) == []  # c-1 alone would have closed at T0 + 600 s
    (closed,) = n.tick(T0 + 800_000)
    assert (closed.cmd_id, closed.ts_ms, closed.open_s) == ("c-2", T0 + 800_000, 800.0)


def test_open_acks_with_echoed_id_and_closes_itself_at_max_run() -> None:
    n = node()
    ev, ack = valid(n.on_command(cmd("c-1", max_run_s=600), T0 + 1000))
    assert isinstance(ev, ValveEvent) and (ev.state, ev.cause, ev.cmd_id) == ("open", "cmd", "c-1")
    assert isinstance(ack, Ack)
    assert (ack.id, ack.ok, ack.state, ack.ts_ms, ack.seq) == ("c-1", True, "open", T0 + 1000, 1)
    assert n.tick(T0 + 600_999) == []
    assert n.open_seconds(T0, T0 + 400_000) == 399.0
    (closed,) = valid(n.tick(T0 + 700_000))
    assert (closed.state, closed.cause, closed.cmd_id) == ("closed", "max_run", "c-1")
    assert closed.ts_ms == T0 + 601_000 and closed.open_s == 600.0 and closed.flow_l == 300.0
    assert not n.is_open and n.tick(T0 + 800_000) == []


def test_hard_cap_from_config_limits_the_run() -> None:
    n = node()
    n.on_config(encode(DeviceConfig(max_run_s=120)))
    n.on_command(cmd("c-1", max_run_s=600), T0)
    (closed,) = n.tick(T0 + 1_000_000)
    assert closed.ts_ms == T0 + 120_000 and closed.open_s == 120.0


def test_expired_command_is_refused_and_does_nothing() -> None:
    n = node()
    (ack,) = valid(n.on_command(cmd("c-old", deadline=T0 + 5_000), T0 + 5_001))
    assert (ack.id, ack.ok, ack.reason, ack.state) == ("c-old", False, "expired", "closed")
    assert not n.is_open


def test_duplicate_id_is_acked_again_without_acting_twice() -> None:
    n = node()
    first = n.on_command(cmd("c-1", max_run_s=300), T0)
    again = valid(n.on_command(cmd("c-1", max_run_s=300), T0 + 200_000))
    assert len(first) == 2 and len(again) == 1
    assert encode(again[0]) == encode(first[1]), "the very same ack, as the firmware does"
    (late,) = n.on_command(cmd("c-late", deadline=T0), T0 + 1)
    assert n.on_command(cmd("c-late", deadline=T0), T0 + 2) == [late]
    # the timer was not restarted by the redelivery
    (closed,) = n.tick(T0 + 10**6)
    assert closed.ts_ms == T0 + 300_000
    assert n.commands_acted == 1


def test_close_command_closes_and_reports_open_time() -> None:
    n = node()
    n.on_command(cmd("c-1"), T0)
    ev, ack = valid(n.on_command(cmd("c-2", "close", deadline=T0 + 10**6), T0 + 90_000))
    assert (ev.state, ev.cause, ev.cmd_id, ev.open_s) == ("closed", "cmd", "c-2", 90.0)
    assert (ack.id, ack.ok, ack.state) == ("c-2", True, "closed")
    (ack2,) = n.on_command(cmd("c-3", "close", deadline=T0 + 10**6), T0 + 91_000)  # no event
    assert (ack2.ok, ack2.state) == (True, "closed")


def test_invalid_command_with_an_id_is_refused_with_a_reason() -> None:
    n = node()
    (ack,) = valid(n.on_command(b'{"v":1,"id":"c-9","ts_ms":1795000000000,"op":"open"}', T0))
    assert ack.id == "c-9" and ack.ok is False and ack.reason.startswith("invalid")
    assert n.on_command(b'{"v":1,"id":"c-9","ts_ms":1795000000000,"op":"open"}', T0) == [ack]
    assert n.on_command(b"not json", T0) == []
    assert not n.is_open
