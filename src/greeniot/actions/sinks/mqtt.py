"""Alerts out over MQTT: protocol ``Alert`` JSON on ``greeniot/v1/{site}/alerts``, QoS 1.

The sink takes a ``publish`` callable that returns once the broker acknowledged the message
(``greeniot.transport.mqtt.MqttSession.send``), so "sent" is recorded only as a fact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from greeniot.actions.sinks.notification import Notification
from greeniot.protocol import Alert, alerts_topic, encode
from greeniot.registry.crud.deliveries import Recipient

#: What executors take: ``await publish(topic, payload, qos)``, returning after PUBACK.
Publish = Callable[[str, bytes, int], Awaitable[None]]


class MqttAlertSink:
    """Publishes alerts as protocol ``Alert`` JSON on ``greeniot/v1/{site}/alerts``, QoS 1."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    async def send(self, alert: Alert) -> None:
        await self._publish(alerts_topic(alert.site), encode(alert), 1)

    async def deliver(self, recipient: Recipient, items: Sequence[Notification],
                      delivery_ids: Sequence[int] = ()) -> None:
        """The dispatcher's contract: machines want each alert, so a digest is not folded."""
        for item in items:
            await self.send(item.alert)
