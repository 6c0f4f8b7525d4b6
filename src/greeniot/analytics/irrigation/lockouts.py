"""Weather and schedule lockouts of a watering decision, and the winter-watering rule (pure).

Each lockout has a stable reason code (:class:`Lockout`) and one sentence for people. The
lockouts here are the ones that follow from weather, forecast and the zone's own limits; the
executor-level interlocks (valve already open, command in flight, no valve bound) come from the
actions layer and are passed to :func:`greeniot.analytics.irrigation.decision.decide` as
verdicts of the same shape.

Thresholds are project defaults (:class:`LockoutParams`), tuned per estate; each says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

MS_PER_S = 1000


class Lockout(StrEnum):
    """Reason codes of the lockouts (stored with every decision)."""

    RAIN_FORECAST = "rain_forecast"
    RAIN_OBSERVED = "rain_observed"
    FROST = "frost"
    HIGH_WIND = "high_wind"
    MIN_INTERVAL = "min_interval"
    DAILY_BUDGET = "daily_budget"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One lockout that applies: its code (a :class:`Lockout` value or an interlock's own code)
    and the sentence that explains it."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Forecast:
    """A site's forecast as known at decision time (the ``forecast`` channel).

    Rain [mm] for the rest of today and for tomorrow, today's minimum and maximum air
    temperature [°C], tomorrow's minimum [°C] when the service gives it, and the day's mean
    wind [m s-1]. None = not forecast.
    """

    rain_today_mm: float = 0.0
    rain_tomorrow_mm: float = 0.0
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    temp_min_tomorrow_c: float | None = None
    wind_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Conditions:
    """What is known about a zone and its site at decision time."""

    rain_observed_24h_mm: float = 0.0
    air_temp_c: float | None = None
    wind_ms: float | None = None
    forecast: Forecast | None = None
    last_watering_end_ms: int | None = None
    #: Water already applied today (rolling 24 h): valve-open time [s] and volume [l].
    run_s_today: float = 0.0
    volume_l_today: float = 0.0


@dataclass(frozen=True, slots=True)
class LockoutParams:
    """Lockout thresholds, project defaults.

    Attributes
    ----------
    rain_forecast_mm, rain_observed_mm : float
        Rain forecast for today, or observed in the last 24 h, at or above which the zone is
        not watered [mm]: 5 mm is about the smallest rain that wets a shallow urban root zone
        through a mulch or turf layer (FAO-56 ch. 8 treats small rains as largely intercepted
        and evaporated); the balance credits whatever falls.
    frost_c : float
        Air temperature, now or as today's forecast minimum, at or below which valves stay
        shut [°C]: drippers, pipes and leaves on a clear night run colder than the air at
        sensor height, so 2 °C keeps a margin above 0 °C.
    high_wind_ms : float
        Wind at or above which sprinkler zones of ``wind_kinds`` are not watered [m s-1]:
        ~4.5 m/s (10 mph) is the usual limit above which sprinkler drift and distortion make
        the application uniformity poor.
    wind_kinds : tuple of str
        Zone kinds whose watering wind spoils (fine spray drifts first).
    min_run_s : int
        A daily budget leaving less than this much run time is a lockout [s].
    winter_months : tuple of int
        Months in which the winter-watering rule applies (northern hemisphere default).
    winter_freeze_c : float
        Tomorrow's forecast minimum at or below which winter watering is due today [°C].
    winter_min_depletion : float
        Share of TAW the root zone must have lost for winter watering to be worth it [-].
    """

    rain_forecast_mm: float = 5.0
    rain_observed_mm: float = 5.0
    frost_c: float = 2.0
    high_wind_ms: float = 4.5
    wind_kinds: tuple[str, ...] = ("spray",)
    min_run_s: int = 60
    winter_months: tuple[int, ...] = field(default=(11, 12, 1, 2))
    winter_freeze_c: float = 0.0
    winter_min_depletion: float = 0.15


DEFAULT_LOCKOUTS = LockoutParams()


def weather_lockouts(*, kind: str | None, cond: Conditions,
                     params: LockoutParams = DEFAULT_LOCKOUTS) -> list[Verdict]:
    """Rain observed or forecast, frost (now or forecast), high wind for spray zones."""
    out: list[Verdict] = []
    fc = cond.forecast
    if cond.rain_observed_24h_mm >= params.rain_observed_mm:
        out.append(Verdict(Lockout.RAIN_OBSERVED,
                           f"rain observed: {cond.rain_observed_24h_mm:.1f} mm in the last 24 h "
                           f"(lockout at >= {params.rain_observed_mm:g} mm)"))
    if fc is not None and fc.rain_today_mm >= params.rain_forecast_mm:
        out.append(Verdict(Lockout.RAIN_FORECAST,
                           f"rain forecast: {fc.rain_today_mm:.1f} mm today "
                           f"(lockout at >= {params.rain_forecast_mm:g} mm)"))
    cold = [(f"air {cond.air_temp_c:.1f} °C now", cond.air_temp_c)] if cond.air_temp_c is not None \
        else []
    if fc is not None and fc.temp_min_c is not None:
        cold.append((f"forecast minimum {fc.temp_min_c:.1f} °C today", fc.temp_min_c))
    frosty = [text for text, t in cold if t <= params.frost_c]
    if frosty:
        out.append(Verdict(Lockout.FROST, f"frost: {', '.join(frosty)} "
                                          f"(lockout at <= {params.frost_c:g} °C)"))
    if kind in params.wind_kinds:
        winds = [w for w in (cond.wind_ms, fc.wind_ms if fc else None) if w is not None]
        if winds and max(winds) >= params.high_wind_ms:
            out.append(Verdict(Lockout.HIGH_WIND,
                               f"high wind for a {kind} zone: {max(winds):.1f} m/s "
                               f"(lockout at >= {params.high_wind_ms:g} m/s)"))
    return out


def schedule_lockouts(*, now_ms: int, min_interval_s: int, cond: Conditions,
                      budget_left_s: float, params: LockoutParams = DEFAULT_LOCKOUTS
                      ) -> list[Verdict]:
    """Minimum interval since the last watering ended; a daily budget already used up."""
    out: list[Verdict] = []
    if cond.last_watering_end_ms is not None:
        since_s = (now_ms - cond.last_watering_end_ms) / MS_PER_S
        if since_s < min_interval_s:
            out.append(Verdict(Lockout.MIN_INTERVAL,
                               f"minimum interval: last watering ended {since_s / 3600:.1f} h ago "
                               f"(at least {min_interval_s / 3600:g} h between waterings)"))
    if budget_left_s < params.min_run_s:
        out.append(Verdict(Lockout.DAILY_BUDGET,
                           f"daily budget used: {max(budget_left_s, 0.0):.0f} s of run time left "
                           f"(a run needs at least {params.min_run_s} s)"))
    return out


def winter_watering_due(*, month: int, dr_mm: float, taw_mm: float, cond: Conditions,
                        params: LockoutParams = DEFAULT_LOCKOUTS) -> str | None:
    """The winter-watering rule: water to field capacity today, ahead of a forecast freeze.

    Moist soil freezes later and holds more heat than dry soil, and roots cannot take up
    water from frozen ground, so estates water trees and shrubs thoroughly before the first
    hard freeze (winter watering). Due when ``month`` is a winter month, tomorrow's forecast
    minimum is at or below ``winter_freeze_c`` and the root zone has lost at least
    ``winter_min_depletion`` of TAW. Returns the reason, or None. Today's frost lockout still
    applies: the rule only fires on a day warm enough to water.
    """
    fc = cond.forecast
    if month not in params.winter_months or fc is None or fc.temp_min_tomorrow_c is None:
        return None
    if fc.temp_min_tomorrow_c > params.winter_freeze_c:
        return None
    if taw_mm <= 0 or dr_mm < params.winter_min_depletion * taw_mm:
        return None
    return (f"winter watering: freeze forecast for tomorrow ({fc.temp_min_tomorrow_c:.1f} °C), "
            f"root zone {dr_mm:.1f} of {taw_mm:.1f} mm depleted: refill before the ground "
            "freezes")


def codes(verdicts: Sequence[Verdict]) -> tuple[str, ...]:
    return tuple(v.code for v in verdicts)
