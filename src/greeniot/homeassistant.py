"""Home Assistant MQTT discovery (optional): an existing Home Assistant shows the estate's
trees, zones and valves without any configuration on its side.

Format (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): one retained JSON
config per entity on ``<prefix>/<component>/<node_id>/<object_id>/config``; ``node_id`` and
``object_id`` use ``[a-zA-Z0-9_-]``. The entities read greeniot's own device topics (no second
publication of the data): ``state_topic`` is the device's up channel and ``value_template``
picks the field, also from a batch (``{"batch": [...]}``: the newest item); availability
follows the device's retained ``status`` (the broker's last will sets it offline).

- tree (tilt sensor bound to it): pitch and roll [°], battery [V]
- zone (soil probe bound to it): soil moisture [%] and soil temperature [°C]
- valve: a ``binary_sensor`` (device class ``opening``), read only: valves are commanded by
  greeniot's interlocks or the API, never by a switch in Home Assistant.

Home Assistant's MQTT user needs read access to ``greeniot/v1/#`` and ``homeassistant/#``;
``greeniot homeassistant`` (as a user allowed to write ``homeassistant/#``) publishes the
configs, ``--remove`` deletes them (empty retained payloads).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from greeniot.config import Settings
from greeniot.estate import DeviceBinding, EstateContext
from greeniot.protocol.topics import device_topic

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "homeassistant"
#: node_id / object_id as Home Assistant's discovery accepts them.
DISCOVERY_ID = re.compile(r"[a-zA-Z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Discovery:
    topic: str
    config: dict[str, Any]

    @property
    def payload(self) -> bytes:
        return json.dumps(self.config, separators=(",", ":"), sort_keys=True).encode()


def _newest(field: str) -> str:
    """Jinja2: the field of a single reading, or of the newest item of a batch."""
    return ("{% set r = value_json.batch[-1] if value_json.batch is defined else value_json %}"
            "{{ r." + field + " }}")


_AVAILABILITY_TEMPLATE = "{{ 'offline' if value_json.state == 'offline' else 'online' }}"


def _ha_id(*parts: str) -> str:
    return "_".join(p.replace("-", "_") for p in parts)


def _entity(prefix: str, component: str, b: DeviceBinding, subject: str, what: str,
            name: str, channel: str, device: dict[str, Any], **extra: Any) -> Discovery:
    node_id = _ha_id("greeniot", b.site)
    object_id = _ha_id(subject, b.device, what)
    config = {
        "name": name,
        "unique_id": _ha_id("greeniot", b.site, b.device, what),
        "object_id": _ha_id("greeniot", b.site, subject, what),
        "state_topic": device_topic(b.site, b.device, channel),
        "availability_topic": device_topic(b.site, b.device, "status"),
        "availability_template": _AVAILABILITY_TEMPLATE,
        "device": device,
        **extra,
    }
    return Discovery(f"{prefix}/{component}/{node_id}/{object_id}/config", config)


def _device(kind: str, site: str, subject: str, model: str) -> dict[str, Any]:
    return {"identifiers": [_ha_id("greeniot", site, kind, subject)],
            "name": f"{kind.capitalize()} {subject} ({site})", "manufacturer": "greeniot",
            "model": model, "suggested_area": site}


def discovery_messages(ctx: EstateContext, *, prefix: str = DEFAULT_PREFIX
                       ) -> list[Discovery]:
    """One config per entity of every tilt sensor on a tree, soil probe in a zone and valve."""
    if not DISCOVERY_ID.fullmatch(prefix):
        raise ValueError(f"discovery prefix {prefix!r} must match {DISCOVERY_ID.pattern}")
    out: list[Discovery] = []
    measure = {"state_class": "measurement"}
    for b in ctx.devices:
        if b.kind == "tilt" and b.tree:
            dev = _device("tree", b.site, b.tree, f"tilt sensor {b.device}")
            out += [
                _entity(prefix, "sensor", b, b.tree, "pitch", "Pitch", "tilt", dev,
                        value_template=_newest("pitch_deg"), unit_of_measurement="°",
                        **measure),
                _entity(prefix, "sensor", b, b.tree, "roll", "Roll", "tilt", dev,
                        value_template=_newest("roll_deg"), unit_of_measurement="°",
                        **measure),
                _entity(prefix, "sensor", b, b.tree, "battery", "Battery", "tilt", dev,
                        value_template=_newest("bat_v"), unit_of_measurement="V",
                        device_class="voltage", entity_category="diagnostic", **measure),
            ]
        elif b.kind == "soil" and b.zone:
            dev = _device("zone", b.site, b.zone, f"soil probe {b.device}")
            out += [
                _entity(prefix, "sensor", b, b.zone, "moisture", f"Soil moisture {b.device}",
                        "soil", dev, value_template=_newest("vwc_pct"),
                        unit_of_measurement="%", device_class="moisture", **measure),
                _entity(prefix, "sensor", b, b.zone, "soil_temp", f"Soil temperature "
                        f"{b.device}", "soil", dev, value_template=_newest("temp_c"),
                        unit_of_measurement="°C", device_class="temperature", **measure),
            ]
        elif b.kind == "valve":
            subject = b.zone or b.device
            dev = _device("zone", b.site, subject, f"valve {b.device}")
            out.append(_entity(prefix, "binary_sensor", b, subject, "valve", "Valve",
                               "valve", dev, value_template=_newest("state"),
                               payload_on="open", payload_off="closed",
                               device_class="opening"))
    return out


async def publish_discovery(messages: Iterable[Discovery],
                            send: Callable[[str, bytes, bool], Awaitable[None]], *,
                            remove: bool = False) -> int:
    """Publish (retained) every config, or an empty retained payload for each to remove it;
    ``send(topic, payload, retain)`` returns once the broker has it. Returns the count."""
    n = 0
    for m in messages:
        await send(m.topic, b"" if remove else m.payload, True)
        n += 1
    return n


async def announce(settings: Settings, *, prefix: str = DEFAULT_PREFIX,
                   remove: bool = False) -> int:
    """``greeniot homeassistant``: the registry's estate → discovery configs on the broker."""
    from greeniot.runtime.processes import open_registry_when_reachable, read_context
    from greeniot.transport.mqtt import MqttSession

    engine, sessions = await open_registry_when_reachable(settings)
    try:
        messages = discovery_messages(read_context(sessions), prefix=prefix)
    finally:
        engine.dispose()
    mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}-homeassistant",
                       clean_session=True)
    await mqtt.connect()
    try:
        async def send(topic: str, payload: bytes, retain: bool) -> None:
            await asyncio.wait_for(mqtt.publish(topic, payload, qos=1, retain=retain),
                                   mqtt.publish_timeout_s)

        n = await publish_discovery(messages, send, remove=remove)
    finally:
        await mqtt.close()
    log.info("home assistant discovery: %s %d entities under %s/", "removed" if remove
             else "published", n, prefix)
    return n
