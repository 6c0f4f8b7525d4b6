"""Valve commands and their outcome: recorded before publishing, closed by the node's ack.

Life of a command::

    pending ──mark_sent──> sent ──record_ack──> acked | refused
       │                    └──expire_commands (deadline passed)──> expired
       └──mark_failed (could not publish)──> failed

The ack is the truth about the valve: an ack that arrives after the command was marked
expired or failed (the node got it in time by its own clock) still turns it into acked or
refused. A repeated ack (the node re-acks a duplicate id) changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Command
from greeniot.registry.vocab import WAITING_COMMAND_STATES

log = logging.getLogger(__name__)


def new_command_id() -> str:
    """A fresh command id, ``c-`` and 16 hex digits (valid as a protocol id)."""
    return f"c-{uuid.uuid4().hex[:16]}"


def create_command(session: Session, *, site: str, device: str, op: str,
                   max_run_s: int | None, reason: str, deadline_ms: int,
                   zone: str | None = None, task_id: int | None = None,
                   command_id: str | None = None, now_ms: int | None = None) -> Command:
    """Record a command as ``pending`` before it is published. Commits.

    ``deadline_ms``: the node refuses the command after this time (protocol ``deadline_ms``).
    """
    if op not in ("open", "close"):
        raise InvalidInputError(f"valve op {op!r} is not 'open' or 'close'")
    if op == "open" and (max_run_s is None or max_run_s < 1):
        raise InvalidInputError("op 'open' requires max_run_s >= 1 "
                                "(the node closes the valve after it)")
    now = wall_clock_ms() if now_ms is None else now_ms
    if deadline_ms <= now:
        raise InvalidInputError(f"deadline_ms {deadline_ms} is not after now ({now})")
    command = Command(
        id=command_id or new_command_id(), site=site, device=device, zone=zone, op=op,
        max_run_s=max_run_s, reason=reason, task_id=task_id, created_ms=now,
        deadline_ms=deadline_ms, state="pending",
    )
    if session.get(Command, command.id) is not None:
        raise ConflictError(f"command '{command.id}' already exists")
    session.add(command)
    session.commit()
    return command


def get_command(session: Session, *, command_id: str) -> Command:
    command = session.get(Command, command_id)
    if command is None:
        raise NotFoundError(f"command '{command_id}' not found")
    return command


def list_commands(session: Session, *, site: str | None = None, device: str | None = None,
                  state: str | None = None, limit: int = 100,
                  offset: int = 0) -> Sequence[Command]:
    """Newest first."""
    query = select(Command)
    for column, value in ((Command.site, site), (Command.device, device),
                          (Command.state, state)):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(Command.created_ms.desc(), Command.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def mark_sent(session: Session, *, command_id: str, now_ms: int | None = None) -> Command:
    """The command was published (QoS 1 accepted by the broker). A no-op once acked."""
    command = get_command(session, command_id=command_id)
    if command.sent_ms is None:
        command.sent_ms = wall_clock_ms() if now_ms is None else now_ms
    if command.state == "pending":
        command.state = "sent"
    session.commit()
    return command


def mark_failed(session: Session, *, command_id: str, reason: str,
                now_ms: int | None = None) -> Command:
    """The command could not be published; ``reason`` says why. A no-op once acked."""
    del now_ms  # kept for a uniform signature; failure time is not stored separately
    command = get_command(session, command_id=command_id)
    if command.state in WAITING_COMMAND_STATES:
        command.state = "failed"
        command.ack_reason = reason
    session.commit()
    return command


def record_ack(session: Session, *, command_id: str, ok: bool, ts_ms: int,
               state: str | None = None, reason: str | None = None) -> Command | None:
    """Apply a node's ack (protocol ``Ack``: ``id``, ``ok``, ``ts_ms``, ``state``, ``reason``).

    Returns the command, or None for an id the registry never issued (the caller logs it).
    ``ts_ms`` is the node's own timestamp of the ack.
    """
    command = session.get(Command, command_id, with_for_update=True)
    if command is None:
        return None
    if command.state in ("acked", "refused"):
        session.commit()
        return command  # duplicate ack
    if command.state in ("expired", "failed"):
        log.info("late ack for command %s (was %s): ok=%s", command_id, command.state, ok)
    command.state = "acked" if ok else "refused"
    command.ack_ms = ts_ms
    command.valve_state = state
    command.ack_reason = reason
    session.commit()
    return command


def expire_commands(session: Session, now_ms: int) -> list[Command]:
    """End every pending or sent command whose deadline is before ``now_ms``; returns them."""
    expired = list(session.scalars(
        select(Command)
        .where(Command.state.in_(WAITING_COMMAND_STATES), Command.deadline_ms < now_ms)
        .order_by(Command.deadline_ms)
        .with_for_update()
    ).all())
    for command in expired:
        command.state = "expired"
        command.ack_reason = "no ack before the deadline"
    session.commit()
    return expired
