"""Alert outputs, one module each, sharing the small :class:`AlertSink` protocol.

``mqtt`` publishes on ``greeniot/v1/{site}/alerts`` (QoS 1); a webhook sink can come later
with the same shape.
"""

from __future__ import annotations

from typing import Protocol

from greeniot.protocol import Alert


class AlertSink(Protocol):
    """Delivers one alert; returns when the transport has accepted it, raises if it cannot."""

    async def send(self, alert: Alert) -> None: ...
