"""Readings as columns: what the engine ingests in bulk, and the buffer behind ``ingest()``.

A :class:`ColumnBatch` is one kind of reading from many devices as arrays — what a decoded MQTT
batch, a replay file or an InfluxDB warm-start query naturally gives. Single messages are
appended to a :class:`Pending` buffer in O(1) and become one batch per kind at the next tick,
so the windows are written vectorized whatever the arrival pattern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from greeniot.protocol.channels import CHANNELS

#: A channel that analytics consumes (``channels.ANALYTICS_CHANNELS``), as a batch kind.
Kind = str

#: Columns each kind may carry (protocol v1 names and units), from the channel table. Status
#: is not a column batch: the engine applies it at once, in arrival order.
FIELDS: Mapping[str, tuple[str, ...]] = {
    c.name: c.columns for c in CHANNELS.values() if c.stages and c.name != "status"}
#: Columns a reading of each kind cannot do without.
REQUIRED: Mapping[str, tuple[str, ...]] = {k: CHANNELS[k].required for k in FIELDS}


def check_values(kind: str, n: int, values: Mapping[str, ArrayLike]) -> None:
    """Raise a ValueError naming the field if ``values`` does not fit ``kind`` and ``n``."""
    if kind not in FIELDS:
        raise ValueError(f"kind must be one of {sorted(FIELDS)}, got {kind!r}")
    unknown = set(values) - set(FIELDS[kind])
    if unknown:
        raise ValueError(f"values has fields {sorted(unknown)} unknown for kind {kind!r}; "
                         f"known: {FIELDS[kind]}")
    missing = set(REQUIRED[kind]) - set(values)
    if missing:
        raise ValueError(f"values lacks required fields {sorted(missing)} for kind {kind!r}")
    for name, v in values.items():
        if np.shape(v) != (n,):
            raise ValueError(f"values[{name!r}] has shape {np.shape(v)}, expected ({n},)")


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """Readings of one kind as columns.

    ``site`` is one site for the whole batch or one per reading; ``device`` and ``ts_ms``
    [ms UTC] have one entry per reading, as does every array in ``values`` (names from
    :data:`FIELDS`; missing optional fields are NaN).
    """

    kind: Kind
    site: str | Sequence[str] | np.ndarray
    device: Sequence[str] | np.ndarray
    ts_ms: ArrayLike
    values: Mapping[str, ArrayLike] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FIELDS:
            raise ValueError(f"kind must be one of {sorted(FIELDS)}, got {self.kind!r}")
        n = len(self.device)
        if np.shape(self.ts_ms) != (n,):
            raise ValueError(f"ts_ms has shape {np.shape(self.ts_ms)}, device has {n} entries")
        if not isinstance(self.site, str) and len(self.site) != n:
            raise ValueError(f"site has {len(self.site)} entries, device has {n}")
        check_values(self.kind, n, self.values)

    def __len__(self) -> int:
        return len(self.device)

    def column(self, name: str) -> np.ndarray:
        """A field as float64, NaN-filled if absent."""
        if name in self.values:
            return np.asarray(self.values[name], np.float64)
        return np.full(len(self), np.nan)

    def sites(self) -> np.ndarray:
        """One site per reading."""
        if isinstance(self.site, str):
            return np.full(len(self), self.site, dtype=object)
        return np.asarray(self.site, dtype=object)


@dataclass(frozen=True, slots=True)
class Burst:
    """One sway burst awaiting analysis: evenly sampled from ``ts_ms`` at ``hz``."""

    site: str
    device: str
    ts_ms: int
    hz: float
    pitch_deg: Sequence[float]
    roll_deg: Sequence[float]


class Pending:
    """Append-only per-kind columns filled by single messages; drained into batches."""

    __slots__ = ("_cols", "bursts")

    def __init__(self) -> None:
        self._cols: dict[str, dict[str, list[object]]] = {}
        self.bursts: list[Burst] = []

    def add(self, kind: Kind, site: str, device: str, ts_ms: int,
            values: Mapping[str, float | None]) -> None:
        cols = self._cols.get(kind)
        if cols is None:
            cols = {"site": [], "device": [], "ts_ms": [], **{f: [] for f in FIELDS[kind]}}
            self._cols[kind] = cols
        cols["site"].append(site)
        cols["device"].append(device)
        cols["ts_ms"].append(ts_ms)
        for f in FIELDS[kind]:
            v = values.get(f)
            cols[f].append(np.nan if v is None else v)

    def __len__(self) -> int:
        return sum(len(c["ts_ms"]) for c in self._cols.values()) + len(self.bursts)

    def drain(self) -> list[ColumnBatch]:
        """The buffered readings as one batch per kind, in channel-table order; empties the
        buffer."""
        out = []
        for kind in FIELDS:
            cols = self._cols.pop(kind, None)
            if not cols or not cols["ts_ms"]:
                continue
            out.append(ColumnBatch(
                kind=kind,
                site=np.asarray(cols["site"], dtype=object),
                device=np.asarray(cols["device"], dtype=object),
                ts_ms=np.asarray(cols["ts_ms"], np.int64),
                values={f: np.asarray(cols[f], np.float64) for f in FIELDS[kind]},
            ))
        return out

    def drain_bursts(self) -> list[Burst]:
        out, self.bursts = self.bursts, []
        return out
