"""Synthetic estates for the analytics tests: signals whose right answer is known.

Times are ms UTC from ``T0`` (an hour boundary in 2026). Every generator returns a
:class:`ColumnBatch`; :func:`replay` feeds batches to an engine tick by tick, as live data
would arrive (readings up to each tick's time, then the tick).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from greeniot.analytics.contract import Event
from greeniot.analytics.core.columns import ColumnBatch
from greeniot.analytics.engine import AnalyticsEngine

T0 = 1_790_000_000_000 - (1_790_000_000_000 % 3_600_000)
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000

Fn = Callable[[np.ndarray], np.ndarray]


def times(days: float, every_min: float, start_ms: int = T0) -> np.ndarray:
    return start_ms + np.arange(0, int(days * DAY), int(every_min * MIN), dtype=np.int64)


def storm_wind(ts: np.ndarray, onset_ms: int, end_ms: int, peak_ms: float = 22.0,
               calm_ms: float = 3.0) -> np.ndarray:
    """Calm, then a storm rising to ``peak_ms`` and falling back between onset and end."""
    w = np.full(ts.shape, calm_ms)
    inside = (ts >= onset_ms) & (ts < end_ms)
    phase = (ts[inside] - onset_ms) / (end_ms - onset_ms)
    w[inside] = calm_ms + (peak_ms - calm_ms) * np.sin(np.pi * phase) ** 0.5
    return w


def weather(site: str, device: str, ts: np.ndarray, wind: np.ndarray) -> ColumnBatch:
    return ColumnBatch("weather", site, [device] * ts.size, ts,
                       {"wind_ms": wind, "gust_ms": 1.4 * wind})


def daily_temp(ts: np.ndarray, mean_c: float = 22.0, swing_c: float = 20.0) -> np.ndarray:
    """A daily cycle of ``swing_c`` peak to peak, warmest mid-afternoon."""
    phase = 2 * np.pi * ((ts - T0) % DAY) / DAY
    return mean_c - 0.5 * swing_c * np.cos(phase - np.pi / 4)


def tilt(site: str, device: str, ts: np.ndarray, pitch: np.ndarray, roll: np.ndarray,
         temp: np.ndarray | None = None, noise_deg: float = 0.01, seed: int = 0,
         bat_v: float = 3.9) -> ColumnBatch:
    rng = np.random.default_rng(seed)
    vals = {
        "pitch_deg": pitch + rng.normal(0, noise_deg, ts.size),
        "roll_deg": roll + rng.normal(0, noise_deg, ts.size),
        "bat_v": np.full(ts.size, bat_v),
    }
    if temp is not None:
        vals["temp_c"] = temp
    return ColumnBatch("tilt", site, [device] * ts.size, ts, vals)


def soil(site: str, device: str, ts: np.ndarray, vwc: np.ndarray, bat_v: float = 3.9,
         noise_pct: float = 0.3, seed: int = 0) -> ColumnBatch:
    rng = np.random.default_rng(seed)
    return ColumnBatch("soil", site, [device] * ts.size, ts,
                       {"vwc_pct": vwc + rng.normal(0, noise_pct, ts.size),
                        "bat_v": np.full(ts.size, bat_v)})


def replay(engine: AnalyticsEngine, batches: Sequence[ColumnBatch], start_ms: int, end_ms: int,
           step_ms: int = 30 * MIN, *, ticks: Sequence[int] | None = None,
           prev_ms: int | None = None, per_tick: list[tuple[int, list[Event]]] | None = None
           ) -> list[Event]:
    """Tick every ``step_ms`` from ``start_ms`` to ``end_ms`` (or at ``ticks``), ingesting
    each reading just before the first tick at or after its timestamp (readings at or before
    ``prev_ms`` count as already ingested). Returns all events in order; ``per_tick``
    collects (tick, events) pairs."""
    events: list[Event] = []
    ticks = (np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64) if ticks is None
             else np.asarray(ticks, np.int64))
    prev = np.iinfo(np.int64).min if prev_ms is None else prev_ms
    for t in ticks:
        for b in batches:
            ts = np.asarray(b.ts_ms)
            sel = (ts > prev) & (ts <= t)
            if sel.any():
                engine.ingest_arrays(subset(b, sel))
        prev = int(t)
        got = engine.tick(int(t)).events
        events.extend(got)
        if per_tick is not None:
            per_tick.append((int(t), got))
    return events


def subset(b: ColumnBatch, sel: np.ndarray) -> ColumnBatch:
    site = b.site if isinstance(b.site, str) else np.asarray(b.site, dtype=object)[sel]
    values = {k: np.asarray(v)[sel] for k, v in b.values.items()}
    return ColumnBatch(b.kind, site, np.asarray(b.device, dtype=object)[sel],
                       np.asarray(b.ts_ms)[sel], values)


def kinds(events: Sequence[Event], *wanted: str) -> list[Event]:
    return [e for e in events if e.kind in wanted]
