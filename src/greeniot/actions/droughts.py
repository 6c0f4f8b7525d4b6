"""Drought episodes: keep a zone's dryness in view after its one drought event.

Analytics latches its alarms: a zone gets one ``drought`` event when it crosses its refill
point, and none while it stays dry. If that one event meets a lockout (rain yesterday, frost
this morning) or one run does not refill the root zone, nothing would ever ask again. This
module remembers each zone's open episode and, while fresh soil readings still put the zone
below its refill point, re-raises the drought as a follow-up event for the rules to judge
again (the interlocks then decide: minimum interval, daily cap, rain, frost). The episode ends
when the zone's median probe reading is back at or above the refill point.

Only fresh evidence re-raises: without a probe reading newer than ``max_age_ms`` nothing is
re-raised, so a zone whose probes fell silent is never watered on a stale belief.
"""

from __future__ import annotations

import statistics
from dataclasses import replace

from greeniot.analytics.contract import Event
from greeniot.estate import EstateContext
from greeniot.protocol import SoilReading

#: A probe reading older than this is not evidence of the zone's state now [ms].
SOIL_MAX_AGE_MS = 3 * 3600 * 1000


class DroughtEpisodes:
    """Open drought episodes per (site, zone) and the latest reading of every soil probe."""

    def __init__(self, max_age_ms: int = SOIL_MAX_AGE_MS) -> None:
        self._max_age_ms = max_age_ms
        self._open: dict[tuple[str, str], Event] = {}
        self._latest: dict[tuple[str, str], tuple[int, float]] = {}  # (site, device) → ts, vwc

    def observe_soil(self, site: str, device: str, msg: SoilReading) -> None:
        """Keep a probe's newest reading (a late, buffered one does not replace it)."""
        old = self._latest.get((site, device))
        if old is None or msg.ts_ms >= old[0]:
            self._latest[(site, device)] = (msg.ts_ms, msg.vwc_pct)

    def note(self, events: list[Event]) -> None:
        """Open (or refresh) the episode of every zone with a drought event."""
        for ev in events:
            if ev.kind == "drought" and ev.zone is not None:
                self._open[(ev.site, ev.zone)] = ev

    def open_zones(self) -> list[tuple[str, str]]:
        return sorted(self._open)

    def follow_ups(self, ctx: EstateContext, now_ms: int,
                   skip: set[tuple[str, str]] | None = None) -> list[Event]:
        """A drought event for every open episode whose probes still read dry; closes the
        episodes whose probes read at or above the refill point. ``skip``: zones that already
        have a drought event this tick."""
        refill = {(z.site, z.zone): z.refill_vwc_pct for z in ctx.zones}
        probes: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for b in ctx.devices:
            reading = self._latest.get((b.site, b.device))
            if b.kind == "soil" and b.zone is not None and reading is not None and (
                    now_ms - reading[0] <= self._max_age_ms):
                probes.setdefault((b.site, b.zone), []).append(reading)
        out: list[Event] = []
        for key, first in sorted(self._open.items()):
            fresh = probes.get(key)
            if key not in refill or not fresh:
                continue  # unknown zone or no fresh evidence: keep the episode, say nothing
            vwc = statistics.median(v for _, v in fresh)
            if vwc >= refill[key]:
                del self._open[key]
                continue
            if skip and key in skip:
                continue
            out.append(replace(
                first, ts_ms=max(ts for ts, _ in fresh), value=vwc, threshold=refill[key],
                severity="info",
                detail=f"follow-up: median of {len(fresh)} probe(s) {vwc:.1f}% VWC still below "
                       f"the refill point {refill[key]:.1f}%"))
        return out
