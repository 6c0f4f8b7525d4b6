"""Notifications through apprise URLs: e-mail (``mailto://``, ``mailtos://``), WeCom
(``wecombot://``), DingTalk (``dingtalk://``), Telegram (``tgram://``) and the other services
apprise supports (https://github.com/caronc/apprise/wiki).

Apprise reports a failure as a False result and log lines; the sink captures those lines so
the delivery record says why. A URL apprise does not accept is a permanent failure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import apprise

from greeniot.actions.sinks.notification import DeliveryError, Notification, digest_text
from greeniot.actions.sinks.texts import Texts
from greeniot.registry.crud.deliveries import Recipient

_TYPES = {"critical": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING,
          "info": apprise.NotifyType.INFO}


def redact(url: str) -> str:
    """The URL with its secrets hidden (apprise's privacy mode), for logs and the API."""
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # apprise raises various errors for odd URLs
        plugin = None
    if not plugin:
        return url.split("://", 1)[0] + "://..."
    return str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]


class AppriseSink:
    """Sends one message (a digest for several, in the recipient's language) to the
    recipient's apprise URL."""

    def __init__(self, *, timeout_s: float = 10.0, texts: Texts | None = None) -> None:
        self._timeout_s = timeout_s
        self._texts = texts or Texts()

    async def deliver(self, recipient: Recipient, items: Sequence[Notification],
                      delivery_ids: Sequence[int] = ()) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(recipient.target):
            raise DeliveryError(f"apprise cannot use {redact(recipient.target)}",
                                permanent=True)
        title, body = digest_text(items, self._texts)
        kind = (apprise.NotifyType.SUCCESS if all(n.phase == "cleared" for n in items)
                else _TYPES.get(max((n.severity for n in items), key=_rank),
                                apprise.NotifyType.INFO))
        with apprise.LogCapture(level=logging.WARNING,  # type: ignore[no-untyped-call]
                                fmt="%(message)s") as logs:
            # our texts are plain (lines, names with "<"): not HTML, as apprise assumes
            ok = await notifier.async_notify(body=body, title=title, notify_type=kind,
                                             body_format=apprise.NotifyFormat.TEXT)
        if not ok:
            lines = [line for line in logs.getvalue().splitlines() if line.strip()]
            raise DeliveryError(f"apprise {redact(recipient.target)}: "
                                f"{lines[-1] if lines else 'notify failed'}")


def _rank(severity: str) -> int:
    return ("info", "warning", "critical").index(severity) if severity in _TYPES else 0
