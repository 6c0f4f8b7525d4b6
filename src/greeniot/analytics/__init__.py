"""Vectorized analytics: readings in, de-duplicated events out, on event time.

Detectors (:mod:`tilt`, :mod:`sway`, :mod:`storm`, :mod:`water`, :mod:`health`) are pure
functions of (devices × samples) arrays; :class:`AnalyticsEngine` keeps the ring buffers and
runs them all at every tick. Thresholds and their sources are in :mod:`params`; the contract
with actions is :mod:`events` and :mod:`context`.
"""

from greeniot.analytics.contract import Event, EventKind, Severity
from greeniot.analytics.core.columns import ColumnBatch
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import (
    HEALTH_PARAMS,
    SOIL_PARAMS,
    STORM_PARAMS,
    SWAY_PARAMS,
    TILT_PARAMS,
    AnalyticsParams,
)
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo

__all__ = [
    "HEALTH_PARAMS",
    "SOIL_PARAMS",
    "STORM_PARAMS",
    "SWAY_PARAMS",
    "TILT_PARAMS",
    "AnalyticsEngine",
    "AnalyticsParams",
    "ColumnBatch",
    "DeviceBinding",
    "EstateContext",
    "Event",
    "EventKind",
    "Severity",
    "TreeInfo",
    "ZoneInfo",
]
