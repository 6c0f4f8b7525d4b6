"""One queue per recipient: retries with capped, jittered backoff, and a rate limit that folds
a storm into digests.

A recipient's worker takes notifications in order. While the recipient has room in its rate
window (``rate_max`` messages per ``rate_window_s``) each goes out on its own; when only one
slot is left and more are waiting, they all go out together as one digest; with no slot left
they are marked ``held`` and wait until the window has room again. Nothing is dropped: the
rate limit changes how many messages a person gets, not what they learn.

A failed attempt is recorded (``failed`` with the error) and retried after
``uniform(0, min(cap, base * 2**(attempt-1)))`` seconds — "full jitter" (M. Brooker,
"Exponential Backoff And Jitter", AWS Architecture Blog, 2015), so many retrying senders do
not hammer a recovering receiver in step. A permanent failure, or the last attempt, ends in
``gave_up``. Each recipient has its own worker, so a slow or dead one never holds up another,
nor the caller of :meth:`~greeniot.actions.sinks.dispatcher.AlertDispatcher.submit`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from greeniot.actions.sinks.notification import DeliveryError, Notification, Sink
from greeniot.registry.crud.deliveries import Recipient


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter [s]."""

    base_s: float
    cap_s: float

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """How long to wait after failed attempt number ``attempt`` (1-based) [s]."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1)))


@dataclass(frozen=True, slots=True)
class Queued:
    """A planned delivery row and what it carries; ``attempts`` made before (on resume)."""

    delivery_id: int
    notification: Notification
    attempts: int = 0


class DeliveryLog(Protocol):
    """Where a queue records what happens (the registry, through the dispatcher)."""

    async def attempt(self, ids: Sequence[int], *, ok: bool, error: str | None, final: bool,
                      digest: bool) -> None: ...

    async def held(self, ids: Sequence[int]) -> None: ...


class RecipientQueue:
    """The queue and worker of one recipient. Run :meth:`run` as a task; :meth:`put` never
    blocks."""

    def __init__(self, recipient: Recipient, sink: Sink, log: DeliveryLog, *,
                 max_attempts: int, backoff: Backoff, rate_max: int, rate_window_s: float,
                 timeout_s: float, monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 logger: logging.Logger | None = None) -> None:
        if rate_max < 1 or rate_window_s <= 0:
            raise ValueError(f"recipient {recipient.key}: rate_max must be >= 1 and "
                             f"rate_window_s > 0, got {rate_max}, {rate_window_s}")
        self.recipient = recipient
        self._sink = sink
        self._log = log
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._rate_max = rate_max
        self._window_s = rate_window_s
        self._timeout_s = timeout_s
        self._now = monotonic
        self._rng = rng or random.Random()
        self._logger = logger or logging.getLogger(__name__)
        self._queue: asyncio.Queue[Queued] = asyncio.Queue()
        self._sent: deque[float] = deque()  # when messages reached the recipient [monotonic s]
        self._held: set[int] = set()
        self._busy = False
        self.messages_sent = 0  # messages (a digest counts once) that reached the recipient

    def put(self, item: Queued) -> None:
        self._queue.put_nowait(item)

    @property
    def idle(self) -> bool:
        return self._queue.empty() and not self._busy

    def _room(self) -> int:
        now = self._now()
        while self._sent and now - self._sent[0] >= self._window_s:
            self._sent.popleft()
        return self._rate_max - len(self._sent)

    async def run(self) -> None:
        pending: list[Queued] = []
        while True:
            if not pending:
                self._busy = False
                pending.append(await self._queue.get())
                self._busy = True
            while not self._queue.empty():
                pending.append(self._queue.get_nowait())
            room = self._room()
            if room <= 0:
                new = [p.delivery_id for p in pending if p.delivery_id not in self._held]
                if new:
                    self._held.update(new)
                    await self._log.held(new)
                await asyncio.sleep(max(0.0, self._sent[0] + self._window_s - self._now()))
                continue
            if room == 1 and len(pending) > 1:
                batch, pending = pending, []
            else:
                batch, pending = pending[:1], pending[1:]
            await self._send(batch)

    async def _send(self, batch: Sequence[Queued]) -> None:
        ids = [q.delivery_id for q in batch]
        items = [q.notification for q in batch]
        digest = len(batch) > 1
        attempt = max(q.attempts for q in batch)
        while True:
            attempt += 1
            try:
                await asyncio.wait_for(self._sink.deliver(self.recipient, items, ids),
                                       self._timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # any failure of a sink is recorded, then retried
                text = (str(err) or type(err).__name__)[:500]
                if isinstance(err, TimeoutError):
                    text = f"no answer within {self._timeout_s:g} s"
                permanent = isinstance(err, DeliveryError) and err.permanent
                final = permanent or attempt >= self._max_attempts
                await self._log.attempt(ids, ok=False, error=text, final=final, digest=digest)
                if final:
                    self._logger.warning("delivery to %s given up after %d attempt(s): %s",
                                         self.recipient.key, attempt, text)
                    break
                await asyncio.sleep(self._backoff.delay_s(attempt, self._rng))
            else:
                self._sent.append(self._now())
                self.messages_sent += 1
                await self._log.attempt(ids, ok=True, error=None, final=True, digest=digest)
                break
        self._held.difference_update(ids)
