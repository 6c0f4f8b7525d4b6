"""The watering decision of one zone: whether, how deep, how long, in how many cycles (pure).

At the zone's decision time (a configurable local hour, :func:`decision_due`) or on demand:

1. the root-zone depletion Dr comes from the sensor-corrected balance
   (:mod:`greeniot.analytics.irrigation.balance`);
2. water is needed when Dr ≥ RAW (FAO-56 ch. 8: the management-allowed depletion) — by
   default with the day's expected ETc added, so the zone never crosses RAW — or when
   the winter-watering rule fires (:func:`.lockouts.winter_watering_due`). With a
   ``confidence`` the test is made on the estimate's distribution, not its mean: water when
   P(Dr + ETc ≥ RAW) ≥ confidence, from the filter's variance of Dr and of the learned ET
   scale, the spread of RAW (soil test or texture default) and of the day's ETc
   (:func:`need_sd_mm`);
3. the net depth refills the root zone to the target depletion (0 = field capacity):
   net = Dr − target [mm]; gross = net / efficiency; run time = gross / rate [h];
4. a run longer than ``max_run_s`` is split into equal cycles with a soak between them, so
   water infiltrates instead of running off;
5. the daily budget (volume over the zone's area, and valve-open seconds) caps the run;
6. any lockout (weather, schedule, or an executor interlock passed in) turns it into a "no".

Every decision, "no" included, carries its inputs and reasons (:class:`WateringDecision`),
to be stored and shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any, Literal

from greeniot.analytics.irrigation import estimator
from greeniot.analytics.irrigation.lockouts import (
    DEFAULT_LOCKOUTS,
    Conditions,
    LockoutParams,
    Verdict,
    schedule_lockouts,
    weather_lockouts,
    winter_watering_due,
)
from greeniot.estate import ZoneHydraulics

MS_PER_H = 3_600_000
#: Day-to-day spread of a day's ETc around the last complete day's [-]: the decision takes
#: yesterday's ETc as today's; daily ET0 within a month of settled weather varies by ~20 %
#: (temperature and cloud from one day to the next), project choice.
ETC_DAY_REL_SD = 0.2
Outcome = Literal["water", "not_needed", "locked_out"]


@dataclass(frozen=True, slots=True)
class ProbeReading:
    """One probe as used for the decision: raw index, calibrated θ, quality code, and its
    offset against its zone's probe reference (None: not one of the reference's probes;
    :mod:`.probe_offsets`, kept so a restart continues on the same reference)."""

    device: str
    index_pct: float | None
    theta: float | None
    quality: int
    offset_mm: float | None = None


@dataclass(frozen=True, slots=True)
class WaterState:
    """The zone's water balance at decision time (depths in mm)."""

    dr_mm: float
    taw_mm: float
    raw_mm: float
    et0_mm: float  # reference ET of the last complete day
    etc_mm: float  # Kc ET0 of the last complete day
    dr_model_mm: float | None = None  # before the sensor correction
    sensor_alpha: float = 0.0  # share of the correction taken from the probes [-]
    probes: tuple[ProbeReading, ...] = ()
    dr_sd_mm: float | None = None  # the estimate's standard deviation (estimator.py)
    et_scale: float | None = None  # learned actual ET over Kc·ET0 [-]
    probe_offset_mm: float | None = None  # learned offset of the zone's probes
    #: the zone's estimator state after that day, packed (estimator.pack): kept with the
    #: decision so a restarted water stage continues from it
    estimator: tuple[float, ...] = ()
    raw_sd_mm: float | None = None  # spread of RAW from the soil's θ limits (soils.taw_sd_mm)


@dataclass(frozen=True, slots=True)
class WateringDecision:
    """A decision with everything it was based on. ``cycles_s`` are the valve runs, in order,
    with ``soak_s`` between them; ``run_s`` is their sum."""

    site: str
    zone: str
    ts_ms: int
    trigger: Literal["schedule", "on_demand"]
    outcome: Outcome
    water: bool
    net_mm: float
    gross_mm: float
    volume_l: float | None
    run_s: int
    cycles_s: tuple[int, ...]
    soak_s: int
    reasons: tuple[str, ...]
    lockouts: tuple[str, ...]
    state: WaterState
    conditions: Conditions
    rule: Literal["mad", "winter_watering", "none"] = "none"
    #: local day (days since 1970-01-01) whose end-of-day balance was used; set by the planner
    day: int | None = None

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict of the decision and its inputs, for storage and the API."""
        return asdict(self)

    def columns(self) -> dict[str, Any]:
        """The registry table's columns (also the fields of its InfluxDB point)."""
        s, c = self.state, self.conditions
        return {"site": self.site, "zone": self.zone, "ts_ms": self.ts_ms,
                "day": self.day if self.day is not None else -1, "trigger": self.trigger,
                "outcome": self.outcome, "rule": self.rule, "water": self.water,
                "et0_mm": s.et0_mm, "etc_mm": s.etc_mm, "dr_mm": s.dr_mm, "raw_mm": s.raw_mm,
                "taw_mm": s.taw_mm, "rain_observed_mm": c.rain_observed_24h_mm,
                "rain_forecast_mm": None if c.forecast is None else c.forecast.rain_today_mm,
                "net_mm": self.net_mm, "gross_mm": self.gross_mm, "run_s": self.run_s,
                "cycles": len(self.cycles_s), "lockouts": list(self.lockouts),
                "text": self.line()}

    def line(self) -> str:
        """One line for logs and the demo."""
        s = self.state
        head = (f"{self.site}/{self.zone} {self.outcome}: ET0 {s.et0_mm:.1f} mm, "
                f"Dr {s.dr_mm:.1f} mm (RAW {s.raw_mm:.1f}, TAW {s.taw_mm:.1f})")
        if self.water:
            head += (f", water {self.net_mm:.1f} mm net / {self.gross_mm:.1f} mm gross in "
                     f"{len(self.cycles_s)} cycle(s) of {max(self.cycles_s)} s")
        return head + " — " + "; ".join(self.reasons)


def need_sd_mm(state: WaterState) -> float | None:
    """Standard deviation [mm] of Dr + today's ETc − RAW, or None without a Dr spread.

    Var = Var(Dr) + (Kc·ET0)² Var(k) + 2 Kc·ET0 Cov(Dr, k) (the filter's covariance, when the
    packed state is there) + Var(RAW) + (:data:`ETC_DAY_REL_SD` · ETc)².
    """
    if state.dr_sd_mm is None:
        return None
    var = state.dr_sd_mm ** 2 + (state.raw_sd_mm or 0.0) ** 2 \
        + (ETC_DAY_REL_SD * state.etc_mm) ** 2
    if len(state.estimator) == estimator.PACKED and state.et_scale:
        c = state.etc_mm / state.et_scale  # Kc·ET0
        cov = state.estimator[3:12]
        var += c * c * cov[8] + 2.0 * c * cov[2]
    return math.sqrt(max(var, 0.0))


def split_cycles(run_s: int, max_run_s: int) -> tuple[int, ...]:
    """``run_s`` [s] as equal cycles of at most ``max_run_s`` (the last rounds the total)."""
    if run_s <= 0:
        return ()
    n = math.ceil(run_s / max_run_s)
    base = run_s // n
    cycles = [base] * n
    for i in range(run_s - base * n):
        cycles[i] += 1
    return tuple(cycles)


def decide(zone: ZoneHydraulics, state: WaterState, cond: Conditions, *, now_ms: int,
           month: int, trigger: Literal["schedule", "on_demand"] = "schedule",
           interlocks: Sequence[Verdict] = (),
           params: LockoutParams = DEFAULT_LOCKOUTS, anticipate: bool = True,
           margin_frac: float = 0.0, confidence: float | None = None) -> WateringDecision:
    """Decide one zone's watering now.

    Parameters
    ----------
    zone : ZoneHydraulics
        Rate [mm/h], efficiency, limits and budgets of the zone.
    state : WaterState
        Dr, TAW, RAW [mm] and the day's ET0/ETc [mm], probes used.
    cond : Conditions
        Rain observed and forecast, temperature, wind, today's use so far.
    now_ms : int
        Decision time [ms UTC] (event time in replay).
    month : int
        Local month 1..12 (winter-watering season, Kc by month upstream).
    interlocks : sequence of Verdict
        Executor interlocks that already apply (valve open, command pending, no valve...).
    params : LockoutParams
        Lockout thresholds.
    anticipate : bool
        Add the day's expected ETc (the last complete day's, ``state.etc_mm``) to Dr before
        comparing with RAW, so a zone is refilled the morning before it would cross RAW during
        the day rather than the morning after (with one decision a day, the latter leaves one
        day of stress per refill cycle).
    margin_frac : float
        Safety margin below RAW, as a share of TAW [-]: trigger at RAW − margin_frac · TAW.
        It covers the uncertainty of the estimated Dr (a probe calibrated to ±0.01 m³/m³ is
        ±3 mm over a 0.3 m root zone); each refill is then a little smaller and more frequent.
        Not used with a ``confidence``.
    confidence : float, optional
        Water only when P(Dr + ETc ≥ RAW) ≥ ``confidence`` (0.5..1) under a normal estimate
        with :func:`need_sd_mm`; the trigger moves above RAW by z · sd. Needs ``dr_sd_mm``
        in the state (else the mean rule above applies).
    """
    reasons: list[str] = []
    need = state.dr_mm - zone.target_dr_mm
    rule: Literal["mad", "winter_watering", "none"] = "none"
    ahead_mm = state.etc_mm if anticipate else 0.0
    sd = need_sd_mm(state) if confidence is not None else None
    if confidence is not None and not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be within 0.5..1, got {confidence}")
    if sd is not None and confidence is not None:
        z = NormalDist().inv_cdf(confidence)
        trigger_mm = state.raw_mm + z * sd
        margin = f" + {z:.2f} sd {sd:.1f} mm (P ≥ {confidence:g})"
    else:
        trigger_mm = state.raw_mm - margin_frac * state.taw_mm
        margin = f" − margin {margin_frac * state.taw_mm:.1f} mm" if margin_frac else ""
    if state.dr_mm + ahead_mm >= trigger_mm and need > 0:
        rule = "mad"
        target = ("field capacity" if zone.target_dr_mm == 0
                  else f"Dr {zone.target_dr_mm:g} mm")
        today = f" + today's ETc {ahead_mm:.1f} mm" if anticipate else ""
        reasons.append(f"Dr {state.dr_mm:.1f} mm{today} >= RAW {state.raw_mm:.1f} mm{margin}: "
                       f"refill to {target}")
    else:
        winter = winter_watering_due(month=month, dr_mm=state.dr_mm, taw_mm=state.taw_mm,
                                     cond=cond, params=params)
        if winter is not None and need > 0:
            rule = "winter_watering"
            reasons.append(winter)
    budget_s = math.inf if zone.daily_max_s is None else zone.daily_max_s - cond.run_s_today
    verdicts = list(interlocks)
    verdicts += weather_lockouts(kind=zone.kind, cond=cond, params=params)
    verdicts += schedule_lockouts(now_ms=now_ms, min_interval_s=zone.min_interval_s, cond=cond,
                                  budget_left_s=budget_s, params=params)

    def done(outcome: Outcome, gross_mm: float = 0.0, run_s: int = 0) -> WateringDecision:
        cycles = split_cycles(run_s, zone.max_run_s)
        return WateringDecision(
            site=zone.site, zone=zone.zone, ts_ms=now_ms, trigger=trigger, outcome=outcome,
            water=outcome == "water", net_mm=gross_mm * zone.efficiency, gross_mm=gross_mm,
            volume_l=None if zone.area_m2 is None or not run_s else gross_mm * zone.area_m2,
            run_s=run_s, cycles_s=cycles, soak_s=zone.soak_s if len(cycles) > 1 else 0,
            reasons=tuple(reasons), lockouts=tuple(v.code for v in verdicts), state=state,
            conditions=cond, rule=rule)

    if rule == "none":
        today = f" + today's ETc {ahead_mm:.1f} mm" if anticipate else ""
        reasons.append(f"Dr {state.dr_mm:.1f} mm{today} < RAW {state.raw_mm:.1f} mm{margin}: "
                       "no water needed")
        reasons += [v.reason for v in verdicts]
        return done("not_needed")
    if verdicts:
        reasons += [v.reason for v in verdicts]
        return done("locked_out")
    gross = need / zone.efficiency
    caps: list[float] = []
    if zone.daily_budget_l is not None and zone.area_m2:
        left_mm = max(zone.daily_budget_l - cond.volume_l_today, 0.0) / zone.area_m2
        if left_mm < gross:
            caps.append(left_mm)
            reasons.append(f"capped by the daily water budget: {left_mm:.1f} mm "
                           f"({left_mm * zone.area_m2:.0f} l) left of {gross:.1f} mm")
    gross_run_s = gross / zone.application_rate_mm_h * 3600.0
    if budget_s < gross_run_s:
        caps.append(budget_s * zone.application_rate_mm_h / 3600.0)
        reasons.append(f"capped by the daily run budget: {budget_s:.0f} s left of "
                       f"{gross_run_s:.0f} s")
    gross = min([gross, *caps])
    run_s = math.ceil(gross / zone.application_rate_mm_h * 3600.0)
    if run_s < params.min_run_s:
        reasons.append(f"run of {run_s} s is shorter than {params.min_run_s} s: not worth "
                       "opening the valve")
        return done("locked_out")
    n_cycles = len(split_cycles(run_s, zone.max_run_s))
    if n_cycles > 1:
        reasons.append(f"{run_s} s exceeds max run {zone.max_run_s} s: {n_cycles} cycles "
                       f"with {zone.soak_s} s soak")
    return done("water", run_s * zone.application_rate_mm_h / 3600.0, run_s)


def decision_due(*, now_ms: int, utc_offset_h: float, hour_local: float,
                 last_decision_ms: int | None) -> bool:
    """True once per local day, at the first call at or after ``hour_local`` [h, 0–24).

    ``utc_offset_h`` is the site's offset from UTC [h]. A decision already made since the
    last ``hour_local`` means not due (so a restart does not decide twice); with no decision
    yet, it is due from ``hour_local`` of the current local day on.
    """
    local_h = (now_ms / MS_PER_H + utc_offset_h) % 24.0
    if last_decision_ms is None:  # nothing decided yet: from today's hour on, not before
        return local_h >= hour_local
    hours_since = (local_h - hour_local) % 24.0
    slot_start_ms = now_ms - round(hours_since * MS_PER_H)
    return last_decision_ms < slot_start_ms
