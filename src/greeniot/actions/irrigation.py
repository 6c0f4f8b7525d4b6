"""The one irrigation path: zone water state → interlocks → valve command. Pure.

Control reads state, not events. Every tick analytics hands over every zone's water state
(:class:`~greeniot.analytics.contract.ZoneWaterState`: the latched drought level, the median of
the zone's healthy probes, its newest reading); a zone that is dry stays dry in that state until
its probes say otherwise, so a lockout (rain yesterday, frost this morning) or a run that did not
refill the root zone never loses sight of it: the interlocks judge it again at the next tick
(minimum interval, daily cap, rain, frost, valve already open or a command in flight).

Only fresh evidence waters: a zone whose newest probe reading is older than
:data:`SOIL_MAX_AGE_MS` is not watered on a stale belief.
"""

from __future__ import annotations

from collections.abc import Mapping

from greeniot.actions.interlocks import DEFAULT_PARAMS, InterlockParams, ZoneState, may_open
from greeniot.actions.plan import Alert, ValveOpen
from greeniot.analytics.contract import ZoneWaterState
from greeniot.clock import MS_PER_HOUR
from greeniot.estate import EstateContext, ZoneInfo

#: A probe reading older than this is not evidence of the zone's state now [ms].
SOIL_MAX_AGE_MS = 3 * MS_PER_HOUR
#: Interlocks that mean "watering is already under way", not "skipped": no alert for these.
IN_PROGRESS = frozenset({"valve_open", "cmd_pending"})

ZoneKey = tuple[str, str]


def _need(vwc_pct: float, refill_pct: float, n_probes: int) -> str:
    return (f"soil moisture {vwc_pct:.1f} % (median of {n_probes} probe(s)) below refill point "
            f"{refill_pct:g} %: root-zone depletion past the management allowed depletion "
            "(FAO-56)")


def _zone(zone: ZoneInfo, vwc_pct: float, refill_pct: float, n_probes: int, ts_ms: int,
          state: ZoneState, now_ms: int, params: InterlockParams) -> list[ValveOpen | Alert]:
    need = _need(vwc_pct, refill_pct, n_probes)
    verdict = may_open(zone, state, now_ms, params)
    if verdict.ok and zone.valve_device is not None:
        return [ValveOpen(site=zone.site, device=zone.valve_device, zone=zone.zone,
                          run_s=verdict.run_s, reason=need, ts_ms=ts_ms,
                          reasons=(need, *verdict.reasons))]
    if set(verdict.lockouts) <= IN_PROGRESS:
        return []  # watering already under way: nothing to say
    return [Alert(site=zone.site, kind="irrigation_skipped", severity="info",
                  message=f"irrigation of zone {zone.zone} skipped: " + "; ".join(verdict.reasons),
                  dedup_key=f"irrigation_skipped:{zone.site}:{zone.zone}", ts_ms=ts_ms,
                  reasons=(need, *verdict.reasons), device=zone.valve_device, zone=zone.zone,
                  value=vwc_pct)]


def plan_irrigation(water: ZoneWaterState, ctx: EstateContext,
                    zone_states: Mapping[ZoneKey, ZoneState], now_ms: int,
                    params: InterlockParams = DEFAULT_PARAMS) -> list[ValveOpen | Alert]:
    """Valve opens (or the reasons not to) for every dry zone, at ``now_ms`` [ms UTC].

    Parameters
    ----------
    water : ZoneWaterState
        Analytics' zone water state of this tick.
    ctx : EstateContext
        Zones with their limits and valves.
    zone_states : mapping (site, zone) → ZoneState
        What the zone tracker knows (rain, air temperature, valve history, pending command).
    now_ms : int
        Decision time (event time in replay).
    params : InterlockParams
        Lockout thresholds.

    Returns
    -------
    list of ValveOpen | Alert
        At most one per zone: an open, or an info alert naming every lockout. A probe bound to
        no registry zone that reads dry gets a warning alert (no valve can be chosen).
    """
    out: list[ValveOpen | Alert] = []
    if not len(water):
        return out
    zones = {(z.site, z.zone): z for z in ctx.zones}
    for i in range(len(water)):
        if water.drought_level[i] <= 0:
            continue
        ts = int(water.newest_ts_ms[i])
        if now_ms - ts > SOIL_MAX_AGE_MS:
            continue  # no fresh evidence: say nothing, water nothing
        site, zone_id = str(water.site[i]), water.zone[i]
        vwc, refill, n = float(water.vwc_pct[i]), float(water.refill_vwc_pct[i]), int(
            water.n_probes[i])
        zone = zones.get((site, zone_id)) if zone_id is not None else None
        if zone is not None and zone.application_rate_mm_h is not None:
            continue  # a water-balance zone: decided by actions.watering
        if zone is None:
            subject = zone_id or water.device[i] or site
            out.append(Alert(
                site=site, kind="drought", severity="warning",
                message=f"drought at {subject} but no irrigation zone is known for it",
                dedup_key=f"drought_unzoned:{site}:{subject}", ts_ms=ts,
                reasons=(_need(vwc, refill, n),), device=water.device[i], zone=zone_id,
                value=vwc))
            continue
        out.extend(_zone(zone, vwc, refill, n, ts, zone_states.get((site, zone.zone), ZoneState()),
                         now_ms, params))
    return out
