"""``GET /sites/{site}/latest``: the newest reading of every device of a site, from InfluxDB.

One query per measurement, run concurrently::

    SELECT * FROM "soil" WHERE "site" = 'estate-a' GROUP BY "device" ORDER BY time DESC LIMIT 1

``SELECT *`` with ``LIMIT 1`` returns each device's newest *point* with its real timestamp;
``last(*)`` would take every field's last value on its own and, selecting several fields at
once, report the time as 0 (1970). The site id is checked against the protocol's id rule
before it is put into the query, so it cannot break out of the quotes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from greeniot.api.deps import InfluxDep, InfluxQuery
from greeniot.api.schemas import LatestReading, LatestReadings
from greeniot.api.security import ViewerDep, require_site
from greeniot.protocol.topics import READING_CHANNELS
from greeniot.registry.schemas import Id

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sites", tags=["readings"])

#: Tags written by ingest (docs/protocol.md, storage mapping); everything else is a value.
TAG_KEYS = frozenset({"site", "device", "tree", "zone"})
#: Measurements with a reading per device: the protocol's reading channels.
MEASUREMENTS: tuple[str, ...] = READING_CHANNELS


def latest_query(measurement: str, site: str) -> str:
    return (f'SELECT * FROM "{measurement}" WHERE "site" = \'{site}\' '
            f'GROUP BY "device" ORDER BY time DESC LIMIT 1')


def _reading(measurement: str, row: dict[str, Any]) -> LatestReading | None:
    device = row.get("device")
    ts_ms = row.get("time")
    if not isinstance(device, str) or not isinstance(ts_ms, int):
        return None
    tags = {k: str(v) for k, v in row.items() if k in TAG_KEYS - {"device"} and v is not None}
    values = {k: v for k, v in row.items()
              if k not in TAG_KEYS and k != "time" and not k.startswith("_") and v is not None}
    return LatestReading(device=device, measurement=measurement, ts_ms=ts_ms, values=values,
                         tags=tags)


async def _latest(influx: InfluxQuery, measurement: str, site: str) -> list[LatestReading]:
    rows = await influx.query(latest_query(measurement, site))
    return [r for r in (_reading(measurement, row) for row in rows) if r is not None]


@router.get("/{site}/latest", response_model=LatestReadings,
            responses={502: {"description": "InfluxDB query failed"},
                       503: {"description": "no InfluxDB client configured"}})
async def latest(site: Id, who: ViewerDep, influx: InfluxDep,
                 measurement: Annotated[list[str] | None, Query(
                     description=f"limit to these of {', '.join(MEASUREMENTS)}")] = None,
                 ) -> LatestReadings:
    require_site(who, site)
    wanted = measurement or list(MEASUREMENTS)
    unknown = sorted(set(wanted) - set(MEASUREMENTS))
    if unknown:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"unknown measurement(s) {unknown}: use {list(MEASUREMENTS)}")
    try:
        found = await asyncio.gather(*(_latest(influx, m, site) for m in wanted))
    except Exception as err:  # the client's errors are its own; all mean "store failed"
        log.warning("latest readings of %s: %r", site, err)
        raise HTTPException(status.HTTP_502_BAD_GATEWAY,
                            f"InfluxDB query failed: {err}") from err
    readings = sorted((r for group in found for r in group),
                      key=lambda r: (r.device, r.measurement))
    return LatestReadings(site=site, readings=readings)
