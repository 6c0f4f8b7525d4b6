"""Prometheus families of ``greeniot ingest``, read at scrape time from counters the
components keep anyway (nothing is counted twice). Import-light (prometheus_client only), so
the ingest process does not load the analytics stack (runtime/telemetry.py re-exports them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.metrics_core import Metric

from greeniot.clock import wall_ms
from greeniot.transport.mqtt import MqttSession

if TYPE_CHECKING:
    from greeniot.ingest.service import IngestService


def inbox_families(role: str, mqtt: MqttSession) -> Callable[[], list[Metric]]:
    """Broker lag of one consumer: messages received and not yet processed, and the age of
    the oldest of them [s]; whether the session is connected."""

    def read() -> list[Metric]:
        inbox = GaugeMetricFamily("greeniot_mqtt_inbox_messages",
                                  "Messages received from the broker, not yet processed",
                                  labels=["role"])
        inbox.add_metric([role], len(mqtt.inbox))
        lag = GaugeMetricFamily("greeniot_mqtt_broker_lag_seconds",
                                "Age of the oldest received message not yet processed",
                                labels=["role"])
        try:
            oldest = mqtt.inbox[0].received_ms
        except IndexError:
            age = 0.0
        else:
            age = max(0.0, (wall_ms() - oldest) / 1000)
        lag.add_metric([role], age)
        up = GaugeMetricFamily("greeniot_mqtt_connected", "1 while the MQTT session is up",
                               labels=["role"])
        up.add_metric([role], 1.0 if mqtt.connected else 0.0)
        return [inbox, lag, up]

    return read


def ingest_families(svc: IngestService) -> Callable[[], list[Metric]]:
    """Ingest counters (``IngestStats``) and the spool's depth and age."""

    def read() -> list[Metric]:
        st = svc.stats

        def counter(name: str, doc: str, value: float) -> Metric:
            c = CounterMetricFamily(name, doc)
            c.add_metric([], value)
            return c

        rejected = CounterMetricFamily("greeniot_ingest_messages_rejected",
                                       "Messages (or batch items) refused, by reason",
                                       labels=["reason"])
        for reason, n in sorted(st.rejected.items()):
            rejected.add_metric([reason], n)
        pending = svc.spool.pending_bytes()
        depth = GaugeMetricFamily("greeniot_ingest_spool_bytes",
                                  "Spooled line protocol not yet written to InfluxDB")
        depth.add_metric([], pending)
        since = st.spooled_since_ms
        age = GaugeMetricFamily("greeniot_ingest_spool_age_seconds",
                                "How long the spool has not been empty (0 when empty)")
        age.add_metric([], (wall_ms() - since) / 1000 if pending and since else 0.0)
        write = SummaryMetricFamily("greeniot_ingest_write_seconds",
                                    "InfluxDB write requests and their duration",
                                    count_value=st.writes, sum_value=st.write_s)
        return [
            counter("greeniot_ingest_messages_received", "MQTT messages received", st.received),
            counter("greeniot_ingest_messages_accepted",
                    "Messages (or batch items) decoded and spooled", st.accepted),
            counter("greeniot_ingest_messages_acked", "MQTT messages acknowledged", st.acked),
            rejected,
            counter("greeniot_ingest_lines_written", "Points InfluxDB stored", st.lines_written),
            counter("greeniot_ingest_write_refusals",
                    "Write batches InfluxDB refused for good", st.lines_refused),
            counter("greeniot_ingest_write_retries", "Failed InfluxDB writes retried",
                    st.write_retries),
            depth, age, write,
        ]

    return read
