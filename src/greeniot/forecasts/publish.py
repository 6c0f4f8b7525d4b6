"""Publish a site forecast on its channel: retained, QoS 1, on
``greeniot/v1/{site}/forecast/forecast`` (the newest one per site stays on the broker, so a
restarted maintenance process gets it at once; ingest stores each in InfluxDB)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from greeniot.protocol.codec import encode
from greeniot.protocol.messages import SiteForecast
from greeniot.protocol.topics import forecast_topic

#: ``await send(topic, payload, qos, retain=...)``, e.g. ``MqttSession.send``.
Send = Callable[..., Awaitable[None]]


async def publish_forecast(send: Send, site: str, forecast: SiteForecast) -> str:
    """Publish and wait for the broker's PUBACK; returns the topic."""
    topic = forecast_topic(site)
    await send(topic, encode(forecast), 1, retain=True)
    return topic
