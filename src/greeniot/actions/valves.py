"""Valve commands: record, publish, settle by ack or deadline. Thin I/O, no decisions.

Order of a send, so that no command exists only on the wire: the command is recorded
``pending`` in the registry, published QoS 1 on ``greeniot/v1/{site}/{device}/cmd``, and
marked ``sent`` once the broker acknowledged it (``failed`` with the reason if it could not).
The node's ack makes it ``acked`` or ``refused``; a command with no ack by its deadline is
``expired`` (the node itself refuses it after ``deadline_ms``). The registry keeps the rules of
these transitions (an early ack is not undone by a late ``mark_sent``).

Registry calls are synchronous SQLAlchemy; they run in a worker thread so that a SQLite busy
wait never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from sqlalchemy.orm import Session

from greeniot.actions.zones import ZoneTracker
from greeniot.protocol import Ack, Command, device_topic, encode
from greeniot.registry import crud
from greeniot.registry.errors import NotFoundError

#: Makes a new registry session (``greeniot.registry.db.session_factory(engine)``).
SessionFactory = Callable[[], Session]
#: ``await publish(topic, payload, qos)`` returns once the broker has the message.
Publish = Callable[[str, bytes, int], Awaitable[None]]
#: Current time in ms UTC: event time in replay, wall time live.
Clock = Callable[[], int]

#: How long a node may take to receive a command before refusing it [s]: long enough for a
#: QoS 1 redelivery after a short reconnect, short enough that a stale "open" never runs.
DEFAULT_DEADLINE_S = 60


class CommandError(RuntimeError):
    """A command was recorded but could not be published; the registry holds it as failed."""


class ValveCommander:
    """Sends valve commands and settles them.

    Parameters
    ----------
    session_factory : callable
        Returns a new registry Session.
    publish : callable
        ``await publish(topic, payload, qos)``; e.g. ``MqttSession.send``.
    clock : callable
        ``clock() -> int`` ms UTC.
    deadline_s : int
        Command deadline after its timestamp [s].
    tracker : ZoneTracker, optional
        Told of each command in flight and each ack, so the interlocks see a pending command
        (shared with the executor).
    """

    def __init__(self, session_factory: SessionFactory, publish: Publish, clock: Clock, *,
                 deadline_s: int = DEFAULT_DEADLINE_S,
                 tracker: ZoneTracker | None = None,
                 logger: logging.Logger | None = None) -> None:
        if deadline_s < 1:
            raise ValueError(f"deadline_s must be >= 1, got {deadline_s}")
        self._sessions = session_factory
        self._publish = publish
        self._clock = clock
        self._deadline_ms = deadline_s * 1000
        self.tracker = tracker if tracker is not None else ZoneTracker()
        self._log = logger or logging.getLogger(__name__)

    async def send(self, *, site: str, device: str, op: Literal["open", "close"],
                   max_run_s: int | None, reason: str, zone: str | None = None,
                   task_id: int | None = None) -> str:
        """Record, publish and mark sent one command; returns its id.

        Raises ``ValueError`` for a command the protocol refuses (before recording anything)
        and :class:`CommandError` when publishing failed (recorded as ``failed``).
        """
        topic = device_topic(site, device, "cmd")  # TopicError (a ValueError) on bad ids
        now_ms = self._clock()
        deadline_ms = now_ms + self._deadline_ms
        cmd_id = crud.new_command_id()
        payload = encode(Command(id=cmd_id, ts_ms=now_ms, deadline_ms=deadline_ms, op=op,
                                 max_run_s=max_run_s))

        def record() -> None:
            with self._sessions() as s:
                crud.create_command(s, site=site, device=device, op=op, max_run_s=max_run_s,
                                    reason=reason, deadline_ms=deadline_ms, zone=zone,
                                    task_id=task_id, command_id=cmd_id, now_ms=now_ms)

        await asyncio.to_thread(record)
        # Pending before it is on the wire: a fast node's ack may beat our mark_sent.
        self.tracker.command_sent(site, device, cmd_id, deadline_ms)
        try:
            await self._publish(topic, payload, 1)
        except Exception as err:
            self.tracker.command_failed(site, device, cmd_id)
            why = f"publish failed: {err}"
            await asyncio.to_thread(self._in_session, crud.mark_failed, command_id=cmd_id,
                                    reason=why, now_ms=self._clock())
            raise CommandError(f"command {cmd_id} {op} to {site}/{device}: {why}") from err
        await asyncio.to_thread(self._in_session, crud.mark_sent, command_id=cmd_id,
                                now_ms=self._clock())
        self._log.info("valve command %s %s %s/%s max_run_s=%s", cmd_id, op, site, device,
                       max_run_s)
        return cmd_id

    async def handle_ack(self, site: str, device: str, ack: Ack) -> str | None:
        """Apply a node's ack; returns the command's state after it (``acked``/``refused``), or
        None when the id is unknown or the command was sent to another device (logged)."""

        def apply() -> str | None:
            with self._sessions() as s:
                try:
                    cmd = crud.get_command(s, command_id=ack.id)
                except NotFoundError:
                    self._log.warning("ack from %s/%s for unknown command %r", site, device,
                                      ack.id)
                    return None
                if (cmd.site, cmd.device) != (site, device):
                    # Only the commanded node may settle its command.
                    self._log.warning("ack for command %s from %s/%s ignored: it was sent "
                                      "to %s/%s", ack.id, site, device, cmd.site, cmd.device)
                    return None
                settled = crud.record_ack(s, command_id=ack.id, ok=ack.ok, ts_ms=ack.ts_ms,
                                          state=ack.state, reason=ack.reason)
                return None if settled is None else settled.state

        state = await asyncio.to_thread(apply)
        if state is not None:
            self.tracker.observe_ack(site, device, ack)
        return state

    async def expire(self, now_ms: int | None = None) -> list[str]:
        """Mark every command past its deadline without an ack ``expired``; returns their ids.

        By default ``now_ms`` is this commander's clock: the clock its deadlines were set on
        (wall time for real nodes), which may differ from the event time of the caller.
        """
        if now_ms is None:
            now_ms = self._clock()

        def run() -> list[str]:
            with self._sessions() as s:
                return [c.id for c in crud.expire_commands(s, now_ms=now_ms)]

        ids = await asyncio.to_thread(run)
        for cmd_id in ids:
            self._log.warning("valve command %s expired without an ack", cmd_id)
        return ids

    def _in_session(self, fn: Callable[..., object], **kwargs: object) -> None:
        with self._sessions() as s:
            fn(s, **kwargs)
