"""What a site forecast changes: the watering lockouts and the pre-storm sweep.

Each new forecast of a site (``forecast`` channel) goes

- to the watering planner (:meth:`WateringPlanner.set_forecast`: rain, frost and wind
  lockouts with their reason codes, winter watering before a forecast freeze) and to the
  zone tracker (the refill-point path's forecast-rain interlock);
- to the pre-storm sweep: a forecast at gale strength or with a tropical cyclone signal
  (:class:`~greeniot.actions.sweeps.StormForecast`) opens the ranked inspection list of every
  tree of the site once per storm. A storm is a run of triggering forecasts: the next
  triggering forecast opens a new sweep only after none triggered for ``storm_gap_s``.

A forecast no newer than the site's last (a retained one again after a reconnect) changes
nothing. Pure state; the maintenance process applies the actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from greeniot.actions.plan import Action
from greeniot.actions.rules import decide_forecast
from greeniot.actions.sweeps import StormForecast
from greeniot.actions.watering import WateringPlanner
from greeniot.actions.zones import ZoneTracker
from greeniot.analytics.contract import TreeRiskState
from greeniot.estate import EstateContext
from greeniot.protocol.messages import SiteForecast

#: A storm's forecasts come hours apart while it approaches and passes; two days without a
#: triggering forecast end it (a typhoon's gale-force winds rarely last longer at a site).
STORM_GAP_S = 48 * 3600


def storm_forecast(site: str, fc: SiteForecast) -> StormForecast:
    """The sweep's view of a forecast: the highest mean wind given, the signal."""
    winds = [w for w in (fc.wind_max_ms, fc.wind_ms) if w is not None]
    return StormForecast(site=site, ts_ms=fc.ts_ms, max_wind_ms=max(winds) if winds else None,
                         signal=fc.signal)


@dataclass(slots=True)
class ForecastWatch:
    """Feeds forecasts to the planner and the zone tracker; opens pre-storm sweeps."""

    planner: WateringPlanner
    zones: ZoneTracker
    storm_gap_s: int = STORM_GAP_S
    #: per site: its newest forecast
    latest: dict[str, SiteForecast] = field(default_factory=dict, init=False)
    #: per site: issue time of the last triggering forecast
    _storm_ms: dict[str, int] = field(default_factory=dict, init=False)
    #: pre-storm sweeps opened
    sweeps: int = field(default=0, init=False)

    def prime(self, site: str, fc: SiteForecast) -> None:
        """A warm start's stored forecast: the planner and tracker get it; the sweep does
        not (the broker's retained copy, arriving next, is judged as any new forecast)."""
        self.planner.set_forecast(site, fc)
        self.zones.set_forecast(site, fc.rain_today_mm)

    def observe(self, site: str, fc: SiteForecast, ctx: EstateContext,
                trees: TreeRiskState | None = None) -> list[Action]:
        old = self.latest.get(site)
        if old is not None and fc.ts_ms <= old.ts_ms:
            return []
        self.latest[site] = fc
        self.planner.set_forecast(site, fc)
        self.zones.set_forecast(site, fc.rain_today_mm)
        storm = storm_forecast(site, fc)
        if not storm.triggers:
            return []
        last = self._storm_ms.get(site)
        self._storm_ms[site] = fc.ts_ms
        if last is not None and fc.ts_ms - last < self.storm_gap_s * 1000:
            return []  # the same storm: its sweep is open
        self.sweeps += 1
        return decide_forecast(storm, ctx, trees)
