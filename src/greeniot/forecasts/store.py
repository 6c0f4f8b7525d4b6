"""The newest stored forecast per site (InfluxDB measurement ``forecast``), for a warm start
when the broker's retained copy is not there (a broker restarted without persistence)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from pydantic import ValidationError

from greeniot.protocol.channels import CHANNELS
from greeniot.protocol.messages import SiteForecast

log = logging.getLogger(__name__)
FIELDS = tuple(CHANNELS["forecast"].fields)


class Query(Protocol):
    async def query(self, q: str) -> list[dict[str, Any]]: ...


def _lit(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def newest_forecasts(influx: Query, sites: Iterable[str]) -> dict[str, SiteForecast]:
    """Site → its newest stored forecast (sites with none, or an unreadable one, left out)."""
    out: dict[str, SiteForecast] = {}
    cols = ", ".join(f'"{f}"' for f in FIELDS)
    for site in sites:
        rows = await influx.query(f'SELECT {cols} FROM "forecast" WHERE "site" = {_lit(site)} '
                                  "ORDER BY time DESC LIMIT 1")
        if not rows:
            continue
        row = rows[0]
        values = {k: row[k] for k in FIELDS if row.get(k) is not None}
        if "signal" in values:
            values["signal"] = int(values["signal"])
        try:
            out[site] = SiteForecast.model_validate({"ts_ms": int(row["time"]), **values},
                                                    strict=False)
        except ValidationError as err:
            log.warning("stored forecast of site %s unreadable: %s", site, err.errors()[:1])
    return out
