"""Warm start: refill analytics' windows from InfluxDB after a restart, so the detectors keep
each tree's baseline and each zone's recent moisture instead of starting blind."""

from __future__ import annotations

import logging

import numpy as np

from greeniot.analytics.core.columns import FIELDS, REQUIRED, ColumnBatch
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.clock import MS_PER_DAY
from greeniot.protocol.channels import CHANNELS
from greeniot.protocol.plausible import ranges
from greeniot.store.influx import InfluxClient
from greeniot.store.queries import history

log = logging.getLogger(__name__)

#: How much history each kind needs [days], from the channel table: tilt trends use 14 days of
#: hourly calm medians; soil and weather detectors look back hours to a day.
HISTORY_DAYS = {c.name: c.history_days for c in CHANNELS.values() if c.history_days}


async def warm_start(engine: AnalyticsEngine, influx: InfluxClient, *, now_ms: int,
                     sites: list[str] | None = None, prime: bool = True) -> int:
    """Load history up to ``now_ms`` into ``engine``; returns the newest timestamp loaded (0 if
    none). With ``prime``, one silent tick at that time marks conditions already reported
    before the restart, so they are not reported again."""
    batches: list[ColumnBatch] = []
    newest = 0
    for kind, days in HISTORY_DAYS.items():
        cols = await history(influx, kind, FIELDS[kind], since_ms=now_ms - int(days * MS_PER_DAY),
                             until_ms=now_ms, sites=sites)
        if not len(cols):
            continue
        values, keep = _plausible(kind, {f: np.asarray(v, np.float64)
                                         for f, v in cols.values.items()})
        batches.append(ColumnBatch(kind, np.asarray(cols.site, dtype=object)[keep],
                                   np.asarray(cols.device, dtype=object)[keep],
                                   np.asarray(cols.ts_ms, np.int64)[keep],
                                   {f: v[keep] for f, v in values.items()}))
        newest = max(newest, max(cols.ts_ms))
    engine.warm_start(batches, prime_at_ms=newest if (prime and newest) else None)
    log.info("warm start: %s readings up to %d", {b.kind: len(b) for b in batches}, newest)
    return newest


def _plausible(kind: str, values: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray],
                                                                   np.ndarray]:
    """Leave out what ingest flagged implausible, as live analytics does: an implausible
    optional value becomes NaN, a reading whose required value is implausible is dropped."""
    n = next(iter(values.values())).size if values else 0
    keep = np.ones(n, bool)
    for name, (lo, hi) in ranges(kind).items():
        v = values.get(name)
        if v is None:
            continue
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(v) & ((v < lo) | (v > hi))
        if name in REQUIRED.get(kind, ()):
            keep &= ~bad
        else:
            values[name] = np.where(bad, np.nan, v)
    return values, keep
