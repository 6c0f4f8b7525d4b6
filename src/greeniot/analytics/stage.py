"""The Stage interface: what every detector family offers the engine, and the board through
which stages share results without reaching into each other.

A stage owns its windows, latches and device rows. The engine routes readings to the stages the
channel table names (:data:`greeniot.protocol.channels.CHANNELS`), then ticks the stages in a
fixed order; a stage that needs another's result reads it from the :class:`Board`, where the
earlier stage published it this tick (the storm stage's wind reference for the tilt stage,
health's faulty sensors for the soil stage, the sway stage's estate sway for the storm stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from greeniot.analytics.contract import Event, TreeRiskState, ZoneBalanceState, ZoneWaterState
from greeniot.analytics.core.columns import Burst
from greeniot.analytics.core.index import DeviceIndex
from greeniot.analytics.core.lookup import EstateLookup

if TYPE_CHECKING:
    from greeniot.analytics.storm.stage import SiteStorms, WindReference


@dataclass(frozen=True, slots=True)
class StageBatch:
    """Readings of one channel for one stage: its own rows, times [ms UTC] and columns.

    ``values`` holds the channel's columns as float64 (NaN where absent), and for ``status``
    the ``state`` strings; ``bursts`` the tilt bursts that came with these readings; ``warm``
    marks history loaded at a restart (no events are due for it).
    """

    kind: str
    rows: np.ndarray
    ts_ms: np.ndarray
    values: Mapping[str, np.ndarray]
    bursts: tuple[Burst, ...] = ()
    warm: bool = False

    def column(self, name: str) -> np.ndarray:
        """A column as float64, NaN-filled if absent."""
        if name in self.values:
            return np.asarray(self.values[name], np.float64)
        return np.full(self.rows.size, np.nan)


@dataclass(slots=True)
class SiteSway:
    """Estate sway per site from the newest bursts: the wind stand-in without a station."""

    site_codes: np.ndarray
    ts_ms: np.ndarray
    rms_deg: np.ndarray


@dataclass(slots=True)
class Board:
    """Results stages share within the engine. Each field has one writer (named below)."""

    sites: DeviceIndex  # engine: one code per site, shared by every stage
    lookup: EstateLookup  # engine: bindings, heritage flags, zone thresholds
    site_sway: list[SiteSway] = field(default_factory=list)  # sway stage, drained by storm
    wind: WindReference | None = None  # storm stage: windy or calm at a site and time
    storms: SiteStorms | None = None  # storm stage: storm on, onset, end per site code
    faulty: Mapping[tuple[str, str], bool] = field(default_factory=dict)  # health: (site, device)
    zones: ZoneWaterState | None = None  # soil stage
    trees: TreeRiskState | None = None  # tilt stage
    balance: ZoneBalanceState | None = None  # water stage

    def site_codes(self, sites: np.ndarray) -> np.ndarray:
        return self.sites.rows(list(sites), [""] * len(sites))


class Stage(Protocol):
    """One detector family. ``kinds``: the channels it consumes (checked against the table)."""

    name: str
    kinds: tuple[str, ...]

    def rows(self, kind: str, sites: np.ndarray, devices: np.ndarray,
             board: Board) -> np.ndarray:
        """The stage's rows of these devices (registered if new)."""
        ...

    def append(self, batch: StageBatch, board: Board) -> None:
        """Write readings into the stage's windows (no detection)."""
        ...

    def tick(self, now_ms: int, board: Board) -> list[Event]:
        """Judge every row at event time ``now_ms``; publish results on ``board``."""
        ...

    def remeta(self, board: Board) -> None:
        """Re-read bindings from ``board.lookup`` (the registry changed); state is kept."""
        ...
