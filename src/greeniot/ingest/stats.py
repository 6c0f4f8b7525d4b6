"""Ingest counters (exported later as Prometheus metrics); one summary line in the logs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class IngestStats:
    received: int = 0  # MQTT messages
    accepted: int = 0  # messages (or batch items) decoded and spooled
    acked: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by reason code
    lines_spooled: int = 0
    lines_written: int = 0
    lines_refused: int = 0  # refused by InfluxDB for good (field-type conflict...)
    write_retries: int = 0
    confirmations: int = 0  # ``stored`` messages published to devices
    confirmations_skipped: int = 0  # not sent (broker away): the devices resend instead
    broker_store_bytes: int = 0  # gauge: bytes the broker holds ($SYS), see ingest/lag.py
    lag_alerts: int = 0
    flagged: int = 0  # readings stored with a quality flag (implausible values)
    writes: int = 0  # InfluxDB write requests answered (stored or refused)
    write_s: float = 0.0  # their total duration [s]
    spooled_since_ms: int | None = None  # wall time the spool last went from empty to not

    def summary(self) -> str:
        rej = ",".join(f"{k}={v}" for k, v in sorted(self.rejected.items())) or "0"
        return (f"received={self.received} accepted={self.accepted} rejected={rej} "
                f"spooled={self.lines_spooled} written={self.lines_written} "
                f"refused={self.lines_refused} retries={self.write_retries}")
