"""Prometheus metrics of the greeniot processes (``prometheus-client``).

Each process builds one :class:`Metrics` with its own ``CollectorRegistry`` (no module-level
state: two services in one process, as in the demo or a test, keep apart counts) and hands it
to what it runs. Counters that a component already keeps (ingest's ``IngestStats``, the spool,
the MQTT inbox, the registry's task and command tables) are read at scrape time by a
:class:`ReadCollector` instead of being counted twice.

Exposition: the API serves ``/metrics`` itself; ``greeniot ingest`` and ``greeniot analytics``
start a small HTTP server on ``GREENIOT_METRICS__PORT`` (0 = off). Names follow the Prometheus
conventions (https://prometheus.io/docs/practices/naming/): ``greeniot_`` prefix, base units
(seconds, bytes), ``_total`` for counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: Seconds; analytics stages run from well under a millisecond to seconds at 100k devices.
STAGE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)


class ReadCollector(Collector):
    """Metric families computed at scrape time by ``read()`` (errors are logged, not raised:
    one broken source must not empty the whole scrape)."""

    def __init__(self, name: str, read: Callable[[], Iterable[Metric]]) -> None:
        self.name = name
        self._read = read

    def collect(self) -> Iterator[Metric]:
        try:
            yield from list(self._read())
        except Exception as err:
            log.warning("metrics %s not collected: %s", self.name, err)

    def describe(self) -> Iterable[Metric]:
        return ()  # families are built on each scrape; nothing to check at registration


class Metrics:
    """The metrics a process updates itself, in its own registry."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "greeniot_analytics_stage_seconds", "Duration of one analytics stage's tick",
            ["stage"], registry=r, buckets=STAGE_BUCKETS_S)
        self.tick_seconds = Histogram(
            "greeniot_analytics_tick_seconds", "Duration of one analytics + actions tick",
            registry=r, buckets=STAGE_BUCKETS_S)
        self.events = Counter(
            "greeniot_analytics_events", "Events found by the analytics stages",
            ["kind", "severity", "phase"], registry=r)
        self.tasks = Counter("greeniot_tasks_opened", "Crew tasks opened (new records)",
                             ["kind"], registry=r)
        self.alerts = Counter("greeniot_alerts_raised", "Alerts raised or escalated",
                              ["kind", "severity"], registry=r)
        self.deliveries = Counter(
            "greeniot_alert_deliveries", "Alert deliveries by sink and result (ok, failed)",
            ["sink", "result"], registry=r)
        self.valve_commands = Counter(
            "greeniot_valve_commands", "Valve command transitions (sent, failed, acked, "
            "refused, expired)", ["state"], registry=r)
        self.points_written = Counter(
            "greeniot_event_points_written", "Events, tasks, alerts and tree risk written to "
            "InfluxDB as points", ["measurement"], registry=r)
        self.point_write_failures = Counter(
            "greeniot_event_point_write_failures", "Failed writes of event points to InfluxDB",
            registry=r)
        self.event_lag = Gauge(
            "greeniot_analytics_event_lag_seconds",
            "Wall clock minus the event clock (devices' time) at the last tick", registry=r)

    def add(self, name: str, read: Callable[[], Iterable[Metric]]) -> None:
        """Register families computed at scrape time."""
        self.registry.register(ReadCollector(name, read))


def serve(metrics: Metrics, *, host: str, port: int) -> Any:
    """Start the exposition server (its own thread) on ``host:port``; returns the server
    (``.shutdown()`` stops it), or None when ``port`` is 0."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server
