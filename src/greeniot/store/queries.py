"""Named InfluxQL queries the rest of the system relies on (warm start, API, dashboards)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from greeniot.store.influx import InfluxClient
from greeniot.store.lineproto import SCHEMA

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(slots=True)
class Columns:
    """Readings of one measurement as columns: one entry per point in every list."""

    measurement: str
    site: list[str] = field(default_factory=list)
    device: list[str] = field(default_factory=list)
    ts_ms: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts_ms)


async def history(influx: InfluxClient, measurement: str, fields: tuple[str, ...], *,
                  since_ms: int, until_ms: int | None = None,
                  sites: list[str] | None = None) -> Columns:
    """Points of ``measurement`` in ``[since_ms, until_ms]``, oldest first, as columns.

    Missing fields come back as NaN, so every column has one value per point.
    """
    unknown = [f for f in fields if f not in SCHEMA.get(measurement, {})]
    if measurement not in SCHEMA or unknown:
        raise ValueError(f"unknown measurement/fields {measurement!r} {unknown}; "
                         f"known: { {m: list(f) for m, f in SCHEMA.items()} }")
    where = [f"time >= {int(since_ms)}ms"]
    if until_ms is not None:
        where.append(f"time <= {int(until_ms)}ms")
    if sites:
        bad = [s for s in sites if not _ID.fullmatch(s)]
        if bad:
            raise ValueError(f"invalid site ids {bad}")
        where.append("(" + " OR ".join(f"site = '{s}'" for s in sites) + ")")
    cols = ", ".join(f'"{f}"' for f in fields)
    q = (f'SELECT {cols} FROM "{measurement}" WHERE {" AND ".join(where)} '
         f'GROUP BY "site", "device" ORDER BY time ASC')
    out = Columns(measurement, values={f: [] for f in fields})
    for row in await influx.query(q):
        out.site.append(row["site"])
        out.device.append(row["device"])
        out.ts_ms.append(int(row["time"]))
        for f in fields:
            v = row.get(f)
            out.values[f].append(float("nan") if v is None else float(v))
    return out
