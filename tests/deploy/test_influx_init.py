"""deploy/influxdb/init/retention.iql on a real InfluxDB: the retention policies exist, the
continuous queries are accepted, and their SELECT ... INTO downsamples real ingest lines."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from greeniot.protocol import SoilReading
from greeniot.services import InfluxProcess
from greeniot.store.lineproto import PRECISION, tag_suffix, to_lines

IQL = Path(__file__).resolve().parents[2] / "deploy" / "influxdb" / "init" / "retention.iql"


def statements() -> list[str]:
    return [ln for ln in IQL.read_text().splitlines() if ln.strip() and not ln.startswith("--")]


def q(url: str, query: str, db: str | None = None) -> list[dict]:
    resp = httpx.post(f"{url}/query", data={"q": query, **({"db": db} if db else {})})
    resp.raise_for_status()
    results = resp.json()["results"]
    assert not [r for r in results if "error" in r], (query, results)
    out = []
    for r in results:
        for s in r.get("series", []):
            out += [dict(zip(s["columns"], v, strict=True)) | (s.get("tags") or {})
                    for v in s.get("values", [])]  # SHOW ... lists empty series too
    return out


def test_retention_policies_and_continuous_queries(influxdb: InfluxProcess) -> None:
    url = influxdb.url
    q(url, 'DROP DATABASE "greeniot"')
    q(url, 'CREATE DATABASE "greeniot"')
    try:
        for stmt in statements():
            q(url, stmt)
        rps = {r["name"]: r for r in q(url, 'SHOW RETENTION POLICIES ON "greeniot"')}
        assert rps["raw"]["default"] and rps["raw"]["duration"] == "720h0m0s"
        assert rps["long"]["duration"] == "43800h0m0s"
        cqs = {r["name"] for r in q(url, "SHOW CONTINUOUS QUERIES") if "name" in r}
        assert {"cq_soil_5m", "cq_tilt_5m", "cq_weather_5m", "cq_sway_1m",
                "cq_tree_risk_1h"} <= cqs
        # Ingest's own lines land in the default (raw) policy; the CQ's query downsamples them.
        t0 = (int(time.time() * 1000) - 3_600_000) // 300_000 * 300_000
        lines = [ln for i in range(10) for ln in to_lines(
            SoilReading(seq=i, ts_ms=t0 + i * 30_000, vwc_pct=20.0 + i), tag_suffix("a", "s1"),
            0)]
        httpx.post(f"{url}/write", params={"db": "greeniot", "precision": PRECISION},
                   content="\n".join(lines)).raise_for_status()
        soil_cq = next(s for s in statements() if '"cq_soil_5m"' in s)
        select = re.search(r"BEGIN (SELECT .*) GROUP BY (time\(5m\), \*) END", soil_cq)
        assert select
        q(url, f"{select.group(1)} WHERE time >= {t0}ms AND time < {t0 + 300_000}ms "
               f"GROUP BY {select.group(2)}", db="greeniot")
        rows = q(url, 'SELECT vwc_pct, device FROM "greeniot"."long"."soil_5m"', db="greeniot")
        assert [r["vwc_pct"] for r in rows] == [24.5]  # mean of 20..29, all in one 5-min bucket
        assert rows[0]["device"] == "s1"
    finally:
        q(url, 'DROP DATABASE "greeniot"')
