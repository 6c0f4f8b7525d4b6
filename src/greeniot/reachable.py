"""Waiting for a dependency (broker, InfluxDB, registry database) that is not reachable yet.

An operator sees ONE warning line that names the dependency, where it was looked for and the
``GREENIOT_*`` setting to change; the attempts go on with capped, jittered backoff (logged at
debug only), and one info line says when it answers. No traceback unless
``GREENIOT_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from greeniot.config import InfluxSettings, MqttSettings, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: First wait between attempts and its cap [s]: a broker restarting in compose takes a few s.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class Dependency:
    name: str  # what it is, for people: "MQTT broker"
    where: str  # where it was looked for: "mqtt://127.0.0.1:1883"
    settings: str  # what to change: "GREENIOT_MQTT__HOST / GREENIOT_MQTT__PORT"

    def unreachable(self, err: BaseException, *, retrying: bool = True) -> str:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        line = f"{self.name} not reachable at {self.where} ({reason}); check it runs, or set " \
               f"{self.settings}"
        return line + (f"; retrying with backoff up to {MAX_BACKOFF_S:g} s" if retrying else "")


def mqtt_dependency(s: MqttSettings) -> Dependency:
    return Dependency("MQTT broker", f"mqtt://{s.host}:{s.port}",
                      "GREENIOT_MQTT__HOST / GREENIOT_MQTT__PORT")


def influx_dependency(s: InfluxSettings) -> Dependency:
    return Dependency("InfluxDB", s.url, "GREENIOT_INFLUX__URL")


def registry_dependency(s: Settings) -> Dependency:
    from sqlalchemy.engine import make_url

    url = make_url(s.database_url).render_as_string(hide_password=True)
    return Dependency("registry database", url, "GREENIOT_DB_URL")


async def retry_until_reachable(dep: Dependency, attempt: Callable[[float], Awaitable[T]], *,
                                first_timeout_s: float = 3.0,
                                max_backoff_s: float = MAX_BACKOFF_S,
                                retry_on: tuple[type[BaseException], ...] = (
                                    OSError, TimeoutError, RuntimeError)) -> T:
    """``await attempt(timeout_s)`` until it returns; each failure waits longer (doubling,
    jittered, capped at ``max_backoff_s``). ``timeout_s`` grows the same way, for attempts that
    wait for an answer (an MQTT CONNACK). Exceptions outside ``retry_on`` (a bad password,
    a bug) are raised at once."""
    backoff = FIRST_BACKOFF_S
    timeout_s = first_timeout_s
    failures = 0
    while True:
        try:
            result = await attempt(timeout_s)
        except retry_on as err:
            failures += 1
            if failures == 1:
                log.warning(dep.unreachable(err), exc_info=log.isEnabledFor(logging.DEBUG))
            else:
                log.debug("%s still not reachable (attempt %d): %s", dep.name, failures, err)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, max_backoff_s)
            timeout_s = min(timeout_s * 2, max_backoff_s)
            continue
        if failures:
            log.info("%s reachable at %s after %d failed attempts", dep.name, dep.where,
                     failures)
        return result
