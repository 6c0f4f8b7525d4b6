"""Valve commands: recorded pending, sent, closed by the node's ack or by their deadline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.registry import crud
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from tests.registry.conftest import T0


def _cmd(session: Session, **kw: Any) -> Any:
    fields: dict[str, Any] = {"site": "estate-a", "device": "valve-z1", "zone": "z1",
                              "op": "open", "max_run_s": 600, "reason": "z1 at 14% VWC",
                              "deadline_ms": T0 + 60_000, "now_ms": T0}
    return crud.create_command(session, **(fields | kw))


def test_command_acked_by_the_node(session: Session) -> None:
    cmd = _cmd(session)
    assert cmd.id.startswith("c-") and cmd.state == "pending" and cmd.created_ms == T0
    assert crud.mark_sent(session, command_id=cmd.id, now_ms=T0 + 5).state == "sent"
    acked = crud.record_ack(session, command_id=cmd.id, ok=True, ts_ms=T0 + 150, state="open")
    assert acked is not None
    assert (acked.state, acked.ack_ms, acked.valve_state, acked.sent_ms) == (
        "acked", T0 + 150, "open", T0 + 5)
    # the node acks a duplicate id again: nothing changes
    dup = crud.record_ack(session, command_id=cmd.id, ok=False, ts_ms=T0 + 900,
                          reason="duplicate")
    assert dup is not None and (dup.state, dup.ack_ms, dup.ack_reason) == ("acked", T0 + 150,
                                                                             None)
    # an expiry sweep later leaves an acked command alone
    assert crud.expire_commands(session, T0 + 120_000) == []


def test_ack_before_mark_sent_is_not_undone(session: Session) -> None:
    cmd = _cmd(session)
    crud.record_ack(session, command_id=cmd.id, ok=True, ts_ms=T0 + 3, state="open")
    assert crud.mark_sent(session, command_id=cmd.id, now_ms=T0 + 5).state == "acked"


def test_refusal_keeps_the_reason(session: Session) -> None:
    cmd = _cmd(session)
    refused = crud.record_ack(session, command_id=cmd.id, ok=False, ts_ms=T0 + 70_000,
                              reason="expired", state="closed")
    assert refused is not None
    assert (refused.state, refused.ack_reason, refused.valve_state) == ("refused", "expired",
                                                                        "closed")


def test_unknown_ack_returns_none(session: Session) -> None:
    assert crud.record_ack(session, command_id="c-unknown", ok=True, ts_ms=T0) is None


def test_expire_ends_only_waiting_commands_past_their_deadline(session: Session) -> None:
    due = _cmd(session, command_id="c-due", deadline_ms=T0 + 10)
    crud.mark_sent(session, command_id="c-due")
    _cmd(session, command_id="c-later", deadline_ms=T0 + 100)
    _cmd(session, command_id="c-pending", deadline_ms=T0 + 20)
    _cmd(session, command_id="c-acked", deadline_ms=T0 + 5)
    crud.record_ack(session, command_id="c-acked", ok=True, ts_ms=T0 + 1, state="open")

    expired = crud.expire_commands(session, T0 + 50)
    assert [c.id for c in expired] == ["c-due", "c-pending"]
    assert crud.get_command(session, command_id=due.id).state == "expired"
    assert crud.get_command(session, command_id="c-later").state == "pending"
    assert crud.expire_commands(session, now_ms=T0 + 50) == []  # keyword works too

    # the node got it in time by its own clock: its late ack is the truth about the valve
    late = crud.record_ack(session, command_id="c-due", ok=True, ts_ms=T0 + 9, state="open")
    assert late is not None and late.state == "acked"


def test_failed_publish(session: Session) -> None:
    cmd = _cmd(session)
    failed = crud.mark_failed(session, command_id=cmd.id, reason="broker unreachable")
    assert (failed.state, failed.ack_reason) == ("failed", "broker unreachable")
    assert crud.expire_commands(session, T0 + 10**9) == []


@pytest.mark.parametrize(("kw", "message"), [
    ({"op": "toggle"}, "op 'toggle'"),
    ({"max_run_s": None}, "requires max_run_s"),
    ({"deadline_ms": T0}, "is not after now"),
])
def test_invalid_commands(session: Session, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _cmd(session, **kw)


def test_close_needs_no_run_time_and_ids_are_unique(session: Session) -> None:
    assert _cmd(session, op="close", max_run_s=None, command_id="c-x").op == "close"
    with pytest.raises(ConflictError, match="c-x"):
        _cmd(session, command_id="c-x")


def test_list_and_get(session: Session) -> None:
    _cmd(session, command_id="c-1", now_ms=T0)
    _cmd(session, command_id="c-2", now_ms=T0 + 1, device="valve-z2")
    _cmd(session, command_id="c-3", now_ms=T0 + 2, site="estate-b")
    crud.mark_sent(session, command_id="c-2")
    assert [c.id for c in crud.list_commands(session)] == ["c-3", "c-2", "c-1"]
    assert [c.id for c in crud.list_commands(session, site="estate-a")] == ["c-2", "c-1"]
    assert [c.id for c in crud.list_commands(session, state="sent")] == ["c-2"]
    assert [c.id for c in crud.list_commands(session, device="valve-z1")] == ["c-3", "c-1"]
    with pytest.raises(NotFoundError, match="command 'c-9' not found"):
        crud.get_command(session, command_id="c-9")
