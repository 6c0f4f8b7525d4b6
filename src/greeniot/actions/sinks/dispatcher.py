"""The alert dispatcher: a long-lived component whose :meth:`AlertDispatcher.submit` never
blocks.

``submit(alert)`` puts the alert on an intake queue and returns. The intake task looks up the
alert's routes in the registry (site and severity, ``crud.routes_for``), plans one delivery row
per recipient (``crud.plan_deliveries``: a resubmitted alert is not delivered twice) and hands
each to its recipient's :class:`~greeniot.actions.sinks.queue.RecipientQueue`, which sends,
retries, rate-limits and records the outcome. On start the dispatcher resumes whatever a
previous run left queued, held or failed; on exit it waits (up to ``flush_s``) for the queues
to empty — what is left stays in the registry for the next start.

Notifications: an alert's first delivery is ``raised``; a later submit at a higher severity is
``escalated`` (a ref per severity, so each escalation is delivered once); ``cleared`` says the
alarm is over; :meth:`submit_escalation` tells the next person on the responsibility chain
that a task's SLA passed (to their roster address, and to the site's routes). An alert linked
to a task also goes to the person who holds the task (``responsible``, from the roster).

With ``publish`` given and ``mqtt_default`` on, every alert also goes to the site's topic
``greeniot/v1/{site}/alerts`` as before (recipient ``mqtt:{site}``, no rate limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.actions.sinks.apprise import AppriseSink
from greeniot.actions.sinks.mqtt import MqttAlertSink, Publish
from greeniot.actions.sinks.notification import Notification, Sink
from greeniot.actions.sinks.queue import Backoff, Queued, RecipientQueue
from greeniot.actions.sinks.texts import Reader, TaskRef, Texts, reader_for
from greeniot.actions.sinks.webhook import WebhookSink
from greeniot.clock import wall_ms
from greeniot.config import DeliverySettings
from greeniot.protocol import Alert
from greeniot.registry import crud
from greeniot.registry.crud.deliveries import Recipient
from greeniot.registry.escalation import Escalation
from greeniot.registry.models import Alert as AlertRow
from greeniot.registry.models import Delivery, RosterEntry, Site
from greeniot.registry.models import Task as TaskRow
from greeniot.registry.models_access import User

SessionFactory = Callable[[], Session]
_UNLIMITED = 1_000_000  # machines (MQTT) take every message
_PLAN_BATCH = 500  # notifications planned per registry transaction


#: Who reads a notification when nothing says otherwise (machines, tests, old callers).
ENGLISH_UTC = Reader("en", "UTC")


def alert_notification(alert: Alert, phase: str, note: str = "", *, texts: Texts | None = None,
                       reader: Reader = ENGLISH_UTC, task: TaskRef | None = None
                       ) -> Notification:
    """An alert's notification in ``phase`` (raised, escalated, cleared), its texts in the
    language and time zone of ``reader``; ``task``: the alert's task, named in the body."""
    title, body = (texts or Texts()).alert(alert, phase, reader, note=note, task=task)
    ref = (f"alert:{alert.id}:cleared" if phase == "cleared"
           else f"alert:{alert.id}:{alert.severity}")
    return Notification(ref=ref, phase=phase, site=alert.site, severity=alert.severity,
                        title=title, body=body, alert=alert, locale=reader.locale,
                        tz=reader.tz)


def escalation_severity(priority: int) -> str:
    return "critical" if priority <= 1 else "warning" if priority == 2 else "info"


def escalation_notification(esc: Escalation, *, texts: Texts | None = None,
                            reader: Reader = ENGLISH_UTC) -> Notification:
    """An SLA escalation (the task, how late it is, who holds it now) for ``reader``. Its
    protocol alert is the same for every reader (English, UTC)."""
    texts = texts or Texts()
    severity = escalation_severity(esc.priority)
    title, body = texts.escalation(esc, reader)
    neutral = ": ".join(texts.escalation(esc, ENGLISH_UTC)) if reader != ENGLISH_UTC \
        else f"{title}: {body}"
    alert = Alert(id=f"s-{esc.task_id}-{esc.level}", ts_ms=esc.due_ms, site=esc.site,
                  kind="sla_escalation", severity=severity,  # type: ignore[arg-type]
                  message=neutral, tree=esc.tree, zone=esc.zone, task_id=esc.task_id)
    return Notification(ref=f"task:{esc.task_id}:sla:{esc.level}", phase="sla", site=esc.site,
                        severity=severity, title=title, body=body, alert=alert,
                        locale=reader.locale, tz=reader.tz)


def _person(site: str, name: str, url: str) -> Recipient:
    kind = "mqtt" if url in ("mqtt", "mqtt:") else "apprise"
    return Recipient(key=f"person:{site}:{name}", kind=kind, target=url)


#: A recipient and the language and zone it reads.
Addressee = tuple[Recipient, Reader]


class AlertDispatcher:
    """Delivers alerts to their routes. ``async with`` it; :meth:`submit` from anywhere in
    its event loop.

    Parameters
    ----------
    session_factory : callable
        Returns a new registry Session.
    settings : DeliverySettings
        Attempts, backoff, timeout, default rate limit (``GREENIOT_DELIVERY__*``).
    publish : callable, optional
        ``await publish(topic, payload, qos)`` after PUBACK; enables MQTT delivery.
    mqtt_default : bool
        Every alert also goes on its site's alerts topic (needs ``publish``).
    sinks : mapping, optional
        Sink per kind (``mqtt``, ``webhook``, ``apprise``) to use instead of the built-ins.
    flush_s : float
        How long leaving the context waits for queues to empty [s].
    """

    def __init__(self, session_factory: SessionFactory, settings: DeliverySettings, *,
                 publish: Publish | None = None, mqtt_default: bool = True,
                 sinks: Mapping[str, Sink] | None = None, flush_s: float = 5.0,
                 clock: Callable[[], int] = wall_ms, rng: random.Random | None = None,
                 logger: logging.Logger | None = None) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._publish = publish
        self._mqtt_default = mqtt_default and publish is not None
        self._custom_sinks = dict(sinks or {})
        self._sinks: dict[str, Sink] = {}
        self._flush_s = flush_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._log = logger or logging.getLogger(__name__)
        self._intake: asyncio.Queue[tuple[str, Any, str | None, str]] = asyncio.Queue()
        self._queues: dict[tuple[str, str], RecipientQueue] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None
        self._planning = False
        self._records = _Log(session_factory, clock, self._log)
        self._texts = Texts()
        self.submitted = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> AlertDispatcher:
        self._http = httpx.AsyncClient(timeout=self._settings.timeout_s)
        self._sinks = {"webhook": WebhookSink(self._http),
                       "apprise": AppriseSink(timeout_s=self._settings.timeout_s,
                                              texts=self._texts)}
        if self._publish is not None:
            self._sinks["mqtt"] = MqttAlertSink(self._publish)
        self._sinks.update(self._custom_sinks)
        self._tasks.append(asyncio.create_task(self._intake_loop(), name="delivery-intake"))
        self._tasks.append(asyncio.create_task(self._records.run(), name="delivery-records"))
        await self.resume()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            await self.drain(self._flush_s)
        finally:
            writer, workers = self._tasks[1], [self._tasks[0], *self._tasks[2:]]
            for task in workers:
                task.cancel()
            for task in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._records.flush()  # what the workers did is recorded, even now
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._tasks.clear()
            self._queues.clear()
            if self._http is not None:
                await self._http.aclose()

    # -- the API -----------------------------------------------------------------------------
    def submit(self, alert: Alert, phase: str | None = None, note: str = "") -> None:
        """Queue ``alert`` for delivery and return at once. ``phase`` None: ``raised`` the
        first time, ``escalated`` after; ``"cleared"`` when the alarm is over (``note``: why)."""
        self.submitted += 1
        self._intake.put_nowait(("alert", alert, phase, note))

    def submit_escalation(self, escalation: Escalation) -> None:
        """Tell the task's new holder (and the site's routes) that its SLA passed."""
        self.submitted += 1
        self._intake.put_nowait(("sla", escalation, None, ""))

    @property
    def idle(self) -> bool:
        return (self._intake.empty() and not self._planning and self._records.idle
                and all(q.idle for q in self._queues.values()))

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything submitted has been delivered, held or given up; False if
        ``timeout_s`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.idle:
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def resume(self) -> int:
        """Queue again what a previous run left unfinished; how many rows."""
        rows = await asyncio.to_thread(self._unfinished)
        for recipient, queued in rows:
            self._queue_for(recipient).put(queued)
        if rows:
            self._log.info("resuming %d unfinished deliveries", len(rows))
        return len(rows)

    # -- inside ------------------------------------------------------------------------------
    async def _intake_loop(self) -> None:
        while True:
            batch = [await self._intake.get()]
            self._planning = True
            # a storm submits many at once: plan them in one transaction
            while not self._intake.empty() and len(batch) < _PLAN_BATCH:
                batch.append(self._intake.get_nowait())
            try:
                planned = await asyncio.to_thread(self._plan_all, batch)
            except Exception:  # the alerts are durable in the registry; say what was lost
                self._log.exception("could not plan the delivery of %d notification(s)",
                                    len(batch))
                planned = []
            for recipient, queued in planned:
                self._queue_for(recipient).put(queued)
            self._planning = False

    def _plan_all(self, batch: Sequence[tuple[str, Any, str | None, str]]
                  ) -> list[tuple[Recipient, Queued]]:
        out: list[tuple[Recipient, Queued]] = []
        with self._sessions() as s:
            for what, item, phase, note in batch:
                try:
                    with s.begin_nested():  # one bad item loses only itself
                        out += self._plan(s, what, item, phase, note)
                except Exception:
                    self._log.exception("could not plan the delivery of %s %s", what,
                                        getattr(item, "id", getattr(item, "task_id", "")))
            s.commit()
        return out

    def _queue_for(self, recipient: Recipient) -> RecipientQueue:
        key = (recipient.key, recipient.target)
        queue = self._queues.get(key)
        if queue is None:
            sink = self._sinks.get(recipient.kind)
            if sink is None:
                sink = _Missing(recipient.kind)
            limited = recipient.kind != "mqtt" or recipient.rate_max is not None
            queue = RecipientQueue(
                recipient, sink, self._records,
                max_attempts=self._settings.max_attempts,
                backoff=Backoff(self._settings.backoff_base_s, self._settings.backoff_cap_s),
                rate_max=(recipient.rate_max or self._settings.rate_max) if limited
                else _UNLIMITED,
                rate_window_s=recipient.rate_window_s or self._settings.rate_window_s,
                timeout_s=self._settings.timeout_s, rng=self._rng, logger=self._log)
            self._queues[key] = queue
            self._tasks.append(asyncio.create_task(queue.run(),
                                                   name=f"delivery-{recipient.key}"))
        return queue

    def _site_tz(self, session: Session, site: str) -> str:
        row = session.get(Site, site)
        return row.tz if row is not None and row.tz else "UTC"

    def _reader(self, session: Session, site: str, locale: str | None, tz: str | None,
                account: str | None = None) -> Reader:
        found = session.execute(select(User.locale, User.tz).where(
            User.username == account, User.disabled.is_(False))).first() if account else None
        return reader_for(locale, tz, account=(found[0], found[1]) if found else None,
                          default_locale=self._settings.locale,
                          site_tz=self._site_tz(session, site))

    def _recipients(self, session: Session, site: str, severity: str) -> list[Addressee]:
        out = [(Recipient(key=f"route:{r.name}", kind=r.kind, target=r.target, secret=r.secret,
                          rate_max=r.rate_max, rate_window_s=r.rate_window_s),
                self._reader(session, site, r.locale, r.tz))
               for r in crud.routes_for(session, site=site, severity=severity)]
        if self._mqtt_default:
            out.append((Recipient(key=f"mqtt:{site}", kind="mqtt", target="mqtt"),
                        self._reader(session, site, None, None)))
        return out

    def _roster_person(self, session: Session, site: str, name: str,
                       url: str | None = None) -> Addressee | None:
        """A roster person as a recipient, reading their own language, else their user
        account's (same name), else the default; None if they have no address."""
        person = session.scalars(select(RosterEntry).where(
            RosterEntry.site == site, RosterEntry.name == name,
            RosterEntry.active.is_(True))).first()
        url = url or (person.notify_url if person is not None else None)
        if not url:
            return None
        reader = self._reader(session, site, person.locale if person else None,
                              person.tz if person else None, account=name)
        return _person(site, name, url), reader

    def _task_holder(self, session: Session, task: TaskRow | None) -> Addressee | None:
        """The person who holds the alert's task now (roster address), if any: crews hear of
        their own tasks whatever the routes say."""
        if task is None or not task.responsible:
            return None
        return self._roster_person(session, task.site, task.responsible)

    def _plan(self, s: Session, what: str, item: Any, phase: str | None, clear_note: str
              ) -> list[tuple[Recipient, Queued]]:
        alert_id: str | None
        task_id: int | None
        render: Callable[[Reader], Notification]
        if what == "sla":
            esc: Escalation = item
            recipients = self._recipients(s, esc.site, escalation_severity(esc.priority))
            if esc.to_person and esc.notify_url:
                person = self._roster_person(s, esc.site, esc.to_person, esc.notify_url)
                if person is not None:
                    recipients.append(person)

            def render(reader: Reader) -> Notification:
                return escalation_notification(esc, texts=self._texts, reader=reader)

            alert_id, task_id = None, esc.task_id
        else:
            alert: Alert = item
            if phase is None:
                seen = s.scalars(select(Delivery.id).where(
                    Delivery.alert_id == alert.id).limit(1)).first()
                phase = "escalated" if seen is not None else "raised"
            task = s.get(TaskRow, alert.task_id) if alert.task_id is not None else None
            ref = TaskRef.of(task) if task is not None else None
            recipients = self._recipients(s, alert.site, alert.severity)
            holder = self._task_holder(s, task)
            if holder is not None:
                recipients.append(holder)
            said = phase

            def render(reader: Reader) -> Notification:
                return alert_notification(alert, said, clear_note, texts=self._texts,
                                          reader=reader, task=ref)

            # an alert the registry does not hold (a test's, another system's) still goes
            known = s.get(AlertRow, alert.id)
            alert_id, task_id = (known.id if known else None), alert.task_id
        # one rendering per language and zone; one delivery row per recipient, as before
        by_reader: dict[Reader, list[Recipient]] = {}
        for recipient, reader in {r.key: (r, rd) for r, rd in recipients}.values():
            by_reader.setdefault(reader, []).append(recipient)
        out: list[tuple[Recipient, Queued]] = []
        for reader, group in by_reader.items():
            note = render(reader)
            rows = crud.plan_deliveries(s, ref=note.ref, phase=note.phase, recipients=group,
                                        message=note.to_json(), alert_id=alert_id,
                                        task_id=task_id, now_ms=self._clock(), commit=False)
            by_key = {r.key: r for r in group}
            out += [(by_key[row.recipient], Queued(row.id, note)) for row in rows]
        return out

    def _unfinished(self) -> list[tuple[Recipient, Queued]]:
        with self._sessions() as s:
            routes = {f"route:{r.name}": r for r in crud.list_routes(s)}
            out = []
            for row in crud.unfinished_deliveries(s):
                route = routes.get(row.recipient)
                out.append((Recipient(key=row.recipient, kind=row.kind, target=row.target,
                                      secret=row.secret,
                                      rate_max=route.rate_max if route else None,
                                      rate_window_s=route.rate_window_s if route else None),
                            Queued(row.id, Notification.from_json(row.message), row.attempts)))
            return out


class _Log:
    """The queues' :class:`~greeniot.actions.sinks.queue.DeliveryLog`: outcomes are buffered
    and written by one task, many per transaction, in a worker thread, so that a storm's
    hundreds of outcomes cost a few commits, not one each, and the event loop never waits on
    the disk. :attr:`idle` is False until everything is written."""

    def __init__(self, sessions: SessionFactory, clock: Callable[[], int],
                 logger: logging.Logger) -> None:
        self._sessions = sessions
        self._clock = clock
        self._logger = logger
        self._pending: list[tuple[str, list[int], dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._writing = False

    @property
    def idle(self) -> bool:
        return not self._pending and not self._writing

    async def attempt(self, ids: Sequence[int], *, ok: bool, error: str | None, final: bool,
                      digest: bool) -> None:
        self._pending.append(("attempt", list(ids), {
            "ok": ok, "error": error, "final": final and not ok, "digest": digest,
            "now_ms": self._clock()}))
        self._wake.set()

    async def held(self, ids: Sequence[int]) -> None:
        self._pending.append(("held", list(ids), {"now_ms": self._clock()}))
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            self._writing = True
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception:  # the rows stay as they were; the next start resumes them
                self._logger.exception("could not record %d delivery outcome(s)", len(batch))
            finally:
                self._writing = False

    async def flush(self) -> None:
        """Write what is buffered now (after the current write, if one is under way)."""
        while self._writing:
            await asyncio.sleep(0.005)
        batch, self._pending = self._pending, []
        if batch:
            await asyncio.to_thread(self._write, batch)

    def _write(self, batch: Sequence[tuple[str, list[int], dict[str, Any]]]) -> None:
        with self._sessions() as s:
            for what, ids, kw in batch:
                if what == "attempt":
                    crud.record_attempt(s, delivery_ids=ids, commit=False, **kw)
                else:
                    crud.mark_held(s, delivery_ids=ids, commit=False, **kw)
            s.commit()


class _Missing:
    """A kind with no sink here (MQTT without a broker session): a permanent failure."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    async def deliver(self, recipient: Recipient, items: Sequence[Notification],
                      delivery_ids: Sequence[int] = ()) -> None:
        from greeniot.actions.sinks.notification import DeliveryError

        raise DeliveryError(f"no {self._kind} sink in this process (no broker session?)",
                            permanent=True)


class DispatcherSink:
    """The executor's :class:`~greeniot.actions.sinks.AlertSink` over a dispatcher: pass
    ``sinks=[DispatcherSink(dispatcher)]`` to ``ActionExecutor`` (instead of the default MQTT
    sink; the dispatcher's ``mqtt_default`` keeps the site topic)."""

    def __init__(self, dispatcher: AlertDispatcher) -> None:
        self._dispatcher = dispatcher

    async def send(self, alert: Alert) -> None:
        self._dispatcher.submit(alert)
