"""Alert outputs, one module each, and the machinery that delivers through them.

- :mod:`.mqtt`: protocol ``Alert`` JSON on ``greeniot/v1/{site}/alerts`` (QoS 1);
- :mod:`.webhook`: a signed HTTP POST (HMAC-SHA256 over timestamp and body, docs/alerts.md);
- :mod:`.apprise`: any apprise URL (e-mail, WeCom, DingTalk, Telegram, ...);
- :mod:`.notification`: what is delivered (one alert, an SLA escalation, or a digest);
- :mod:`.queue`: one queue per recipient with retries, capped jittered backoff and the rate
  limit that folds a storm into digests;
- :mod:`.dispatcher`: :class:`~.dispatcher.AlertDispatcher`, the component with a
  non-blocking ``submit(alert)``: routes from the registry, one delivery row per recipient.

:class:`AlertSink` is the executor's older one-alert contract (``send(alert)``);
:class:`~.dispatcher.DispatcherSink` fits the dispatcher into it.
"""

from __future__ import annotations

from typing import Protocol

from greeniot.protocol import Alert


class AlertSink(Protocol):
    """Delivers one alert; returns when the transport has accepted it, raises if it cannot."""

    async def send(self, alert: Alert) -> None: ...
