"""Alarm clears and the SLA job: what the maintenance process calls, besides the executor.

- :func:`clear_condition`: the condition behind an alarm ended (analytics' ``clear`` phase):
  clear the live alarm with that dedup key at event time and notify its routes;
  :func:`clear_subject` does the same for every live alarm of some kinds on one tree, zone or
  device (an event ``(kind, subject, phase=clear)`` needs no knowledge of the rules' keys).
- :class:`ManualClearJob`: tell the routes of an alarm that a person cleared by hand (crew
  page, API: processes without a dispatcher) that it is over;
- :class:`SlaJob`: every ``Settings.tasks.sla_check_s``, hand late tasks up their site's
  responsibility chain (:func:`greeniot.registry.escalation.escalate_overdue`) and notify the
  next person through the dispatcher.

Both take the registry session factory and an
:class:`~greeniot.actions.sinks.dispatcher.AlertDispatcher`; the registry work runs in a
worker thread, the notifications never block.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot import protocol
from greeniot.actions.sinks.dispatcher import AlertDispatcher
from greeniot.registry import crud
from greeniot.registry.escalation import Escalation, escalate_overdue
from greeniot.registry.models import Alert

SessionFactory = Callable[[], Session]


def alert_message(row: Alert) -> protocol.Alert:
    """The protocol ``Alert`` of a registry alert row."""
    return protocol.Alert(id=row.id, ts_ms=row.last_ts_ms, site=row.site, kind=row.kind,
                          severity=row.severity,  # type: ignore[arg-type]
                          message=row.message, device=row.device, tree=row.tree, zone=row.zone,
                          task_id=row.task_id, value=row.value)


async def clear_condition(sessions: SessionFactory, dispatcher: AlertDispatcher | None, *,
                          key: str, ts_ms: int, note: str = "condition ended"
                          ) -> protocol.Alert | None:
    """Clear the live alarm holding dedup ``key`` because its condition ended at ``ts_ms``
    (event time) [ms]; notify its routes. None if nothing was cleared (no live alarm, or one
    that repeated after ``ts_ms``)."""
    def run() -> protocol.Alert | None:
        with sessions() as s:
            row = crud.clear_condition(s, key=key, ts_ms=ts_ms, note=note)
            return alert_message(row) if row is not None else None

    msg = await asyncio.to_thread(run)
    if msg is not None and dispatcher is not None:
        dispatcher.submit(msg, phase="cleared", note=note)
    return msg


async def clear_subject(sessions: SessionFactory, dispatcher: AlertDispatcher | None, *,
                        site: str, ts_ms: int, tree: str | None = None,
                        zone: str | None = None, device: str | None = None,
                        kinds: Sequence[str] | None = None,
                        note: str = "condition ended") -> list[protocol.Alert]:
    """Clear every live alarm of ``kinds`` (None: any) about one subject whose condition ended
    at ``ts_ms`` [ms]; notify each alarm's routes. The alarms cleared."""
    def run() -> list[protocol.Alert]:
        with sessions() as s:
            rows = crud.clear_subject(s, site=site, ts_ms=ts_ms, tree=tree, zone=zone,
                                      device=device, kinds=kinds, note=note)
            return [alert_message(r) for r in rows]

    msgs = await asyncio.to_thread(run)
    if dispatcher is not None:
        for msg in msgs:
            dispatcher.submit(msg, phase="cleared", note=note)
    return msgs


class ManualClearJob:
    """Notifies the clears people made by hand (``cleared_by`` not ``system``) since the last
    round: the crew page and the API clear in the registry only. A clear is delivered once per
    recipient (the dispatcher's refs), so a round that repeats one costs nothing more.

    ``clock``: wall time [ms] (a manual clear is stamped with it); the first round looks back
    ``lookback_ms``.
    """

    def __init__(self, sessions: SessionFactory, dispatcher: AlertDispatcher, *,
                 clock: Callable[[], int], lookback_ms: int = 86_400_000,
                 logger: logging.Logger | None = None) -> None:
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._since = clock() - lookback_ms
        self._log = logger or logging.getLogger(__name__)

    async def run_once(self) -> list[protocol.Alert]:
        since = self._since

        def run() -> list[tuple[protocol.Alert, str, int]]:
            with self._sessions() as s:
                rows = s.scalars(select(Alert).where(
                    Alert.state == "cleared", Alert.cleared_by != "system",
                    Alert.cleared_ms >= since).order_by(Alert.cleared_ms).limit(1000)).all()
                return [(alert_message(r), r.clear_note or "", int(r.cleared_ms or since))
                        for r in rows]

        found = await asyncio.to_thread(run)
        for msg, note, _at in found:
            self._dispatcher.submit(msg, phase="cleared", note=note)
        if found:
            self._since = found[-1][2]  # the same instant again next round: refs de-duplicate
        return [msg for msg, _n, _a in found]

    async def run(self, interval_s: float) -> None:
        """Every ``interval_s`` [s] until cancelled; a failed round is logged, not fatal."""
        while True:
            try:
                await self.run_once()
            except Exception:
                self._log.exception("manual-clear round failed; again in %.0f s", interval_s)
            await asyncio.sleep(interval_s)


class SlaJob:
    """Escalates late tasks along the roster chain and notifies the next person.

    ``clock`` gives the time the SLA is judged at [ms]: the wall clock in a live estate, event
    time in a replay. Call :meth:`run_once` from an existing tick, or run :meth:`run`.
    """

    def __init__(self, sessions: SessionFactory, dispatcher: AlertDispatcher | None, *,
                 clock: Callable[[], int], sla_ms: Mapping[int, int] | None = None,
                 logger: logging.Logger | None = None) -> None:
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._clock = clock
        self._sla_ms = sla_ms
        self._log = logger or logging.getLogger(__name__)

    async def run_once(self) -> list[Escalation]:
        now = self._clock()

        def run() -> list[Escalation]:
            with self._sessions() as s:
                return escalate_overdue(s, now_ms=now, sla_ms=self._sla_ms)

        escalations = await asyncio.to_thread(run)
        for esc in escalations:
            self._log.info("task %d past SLA: %s %s", esc.task_id,
                           "reminding" if esc.reminder else "escalated to",
                           esc.to_person or "nobody (no roster)")
            if self._dispatcher is not None:
                self._dispatcher.submit_escalation(esc)
        return escalations

    async def run(self, interval_s: float) -> None:
        """Every ``interval_s`` [s] until cancelled; a failed round is logged, not fatal."""
        while True:
            try:
                await self.run_once()
            except Exception:
                self._log.exception("SLA round failed; trying again in %.0f s", interval_s)
            await asyncio.sleep(interval_s)
