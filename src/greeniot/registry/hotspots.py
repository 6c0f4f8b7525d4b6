"""Complaint hotspots: counts per compound (site), category and month; the top compounds;
locations complained about more than once.

Months are local months of each site (its ``tz``), so a complaint at 00:30 on the 1st in
Shanghai counts in that month, not the previous one (as it would in UTC).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.complaints import list_complaints
from greeniot.registry.models import Site


@dataclass(frozen=True, slots=True)
class Repeat:
    site: str
    location_key: str
    count: int
    categories: tuple[str, ...]
    tickets: tuple[str, ...]
    first_ms: int
    last_ms: int


@dataclass(frozen=True, slots=True)
class HotspotReport:
    #: (site, category, "YYYY-MM") → complaints
    by_month: tuple[tuple[str, str, str, int], ...]
    #: (site, complaints), most first
    top_sites: tuple[tuple[str, int], ...]
    repeats: tuple[Repeat, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_month": [{"site": s, "category": c, "month": m, "count": n}
                         for s, c, m, n in self.by_month],
            "top_sites": [{"site": s, "count": n} for s, n in self.top_sites],
            "repeats": [{"site": r.site, "location_key": r.location_key, "count": r.count,
                         "categories": list(r.categories), "tickets": list(r.tickets),
                         "first_ms": r.first_ms, "last_ms": r.last_ms} for r in self.repeats],
        }

    def html(self) -> str:
        """A small standalone page of the three tables (for a browser or a wall screen)."""
        def table(head: list[str], rows: list[list[Any]]) -> str:
            th = "".join(f"<th>{escape(h)}</th>" for h in head)
            trs = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>"
                          for r in rows)
            return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
        return (
            "<!doctype html><meta charset='utf-8'><title>complaint hotspots</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #999;padding:2px 8px}</style>"
            "<h2>Complaints per compound, category and month</h2>"
            + table(["compound", "category", "month", "complaints"],
                    [list(r) for r in self.by_month])
            + "<h2>Top compounds</h2>"
            + table(["compound", "complaints"], [list(r) for r in self.top_sites])
            + "<h2>Repeat locations</h2>"
            + table(["compound", "location", "complaints", "categories", "tickets"],
                    [[r.site, r.location_key, r.count, "/".join(r.categories),
                      ", ".join(r.tickets)] for r in self.repeats]))

    def lines(self) -> list[str]:
        out = ["complaints per compound, category and month:",
               f"  {'compound':<16} {'category':<18} {'month':<8} {'count':>5}"]
        out += [f"  {s:<16} {c:<18} {m:<8} {n:>5}" for s, c, m, n in self.by_month]
        out += ["top compounds:"] + [f"  {s:<16} {n:>5}" for s, n in self.top_sites]
        out += ["repeat locations (2+ complaints):"]
        out += [f"  {r.site:<16} {r.location_key:<28} {r.count:>3}  "
                f"{'/'.join(r.categories)}  {', '.join(r.tickets)}" for r in self.repeats]
        return out


def hotspot_report(session: Session, *, since_ms: int | None = None,
                   until_ms: int | None = None, site: str | None = None,
                   top: int = 10, min_repeats: int = 2) -> HotspotReport:
    rows = list_complaints(session, site=site, since_ms=since_ms, until_ms=until_ms,
                           limit=1_000_000)
    zones = {s.id: ZoneInfo(s.tz) for s in session.scalars(select(Site))}
    by_month: Counter[tuple[str, str, str]] = Counter()
    per_site: Counter[str] = Counter()
    places: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for c in rows:
        tz = zones.get(c.site, ZoneInfo("UTC"))
        month = dt.datetime.fromtimestamp(c.received_ms / 1000, tz).strftime("%Y-%m")
        by_month[(c.site, c.category, month)] += 1
        per_site[c.site] += 1
        places[(c.site, c.location_key)].append(c)
    repeats = [
        Repeat(site=s, location_key=k, count=len(cs),
               categories=tuple(sorted({c.category for c in cs})),
               tickets=tuple(c.ticket for c in cs),
               first_ms=min(c.received_ms for c in cs), last_ms=max(c.received_ms for c in cs))
        for (s, k), cs in places.items() if len(cs) >= min_repeats
    ]
    repeats.sort(key=lambda r: (-r.count, r.site, r.location_key))
    return HotspotReport(
        by_month=tuple((s, c, m, n) for (s, c, m), n in sorted(by_month.items())),
        top_sites=tuple(sorted(per_site.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
        repeats=tuple(repeats),
    )
