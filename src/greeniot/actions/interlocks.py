"""May this zone's valve open now? A pure check that returns the answer with its reasons.

The framing is the FAO-56 root-zone water balance (Allen et al. 1998, FAO Irrigation and
Drainage Paper 56): irrigate when depletion exceeds the management allowed depletion (MAD) —
here signalled by a ``drought`` event (soil moisture below the zone's refill point) — and skip
when rain has refilled, or is about to refill, the root zone. On top of that come the
operational lockouts an estate needs: no watering near freezing, a minimum interval between
irrigations, a daily cap on valve-open time, and never a second open while the valve is open
or a command to it is still in flight.

No I/O, no clock: ``now_ms`` is passed in (event time in replay, wall time live).
"""

from __future__ import annotations

from dataclasses import dataclass

from greeniot.estate import ZoneInfo

MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class ZoneState:
    """What the backend currently knows about one irrigation zone (see ``actions.zones``).

    ``open_s_today`` is valve-open time over the rolling 24 h before ``now`` (a rolling window
    needs no site time zone). ``air_temp_c`` is the latest air temperature, or None when the
    site has no recent weather reading. ``pending_cmd`` is the id of a valve command sent but
    neither acknowledged nor past its deadline.
    """

    last_irrigation_end_ms: int | None = None
    open_s_today: float = 0.0
    rain_last_24h_mm: float = 0.0
    rain_forecast_mm: float = 0.0
    air_temp_c: float | None = None
    valve_open: bool = False
    pending_cmd: str | None = None


@dataclass(frozen=True, slots=True)
class InterlockParams:
    """Lockout thresholds. Project defaults, to be tuned per site; not taken from a source.

    Attributes
    ----------
    rain_24h_mm : float
        Rain in the last 24 h at or above which irrigation is skipped [mm] (5 mm: a light
        rain that wets a shallow root zone; FAO-56 frames the skip, the figure is ours).
    rain_forecast_mm : float
        Forecast rain at or above which irrigation is deferred [mm].
    freeze_c : float
        Air temperature at or below which valves stay shut [°C]. The 2 °C margin above 0 °C is
        because pipes, drippers and leaf surfaces on a clear night run colder than the air at
        sensor height: water left in them, or on foliage, freezes first.
    min_run_s : int
        Shortest run worth opening a valve for [s]; a smaller remaining budget is a lockout.
    """

    rain_24h_mm: float = 5.0
    rain_forecast_mm: float = 5.0
    freeze_c: float = 2.0
    min_run_s: int = 60


DEFAULT_PARAMS = InterlockParams()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: ``ok`` to open for ``run_s`` seconds, with the reasons either way.

    ``lockouts`` holds stable codes (``no_valve``, ``rain_24h``, ``rain_forecast``, ``freeze``,
    ``min_interval``, ``daily_cap``, ``valve_open``, ``cmd_pending``) for programs and tests;
    ``reasons`` holds one sentence per code (or per cap applied) for people.
    """

    ok: bool
    reasons: tuple[str, ...]
    run_s: int
    lockouts: tuple[str, ...] = ()


def may_open(zone: ZoneInfo, state: ZoneState, now_ms: int,
             params: InterlockParams = DEFAULT_PARAMS) -> Decision:
    """Decide whether ``zone``'s valve may open at ``now_ms`` and for how long.

    Parameters
    ----------
    zone : ZoneInfo
        The zone's limits: ``max_run_s`` [s], ``min_interval_s`` [s], ``daily_max_s`` [s].
    state : ZoneState
        What is known now: rain [mm], air temperature [°C], valve-open time [s], valve state.
    now_ms : int
        Current time, ms UTC (event time in replay).
    params : InterlockParams
        Lockout thresholds.

    Returns
    -------
    Decision
        ``ok`` with ``run_s = min(zone.max_run_s, remaining daily budget)``, or not ok with
        every lockout that applies (all of them, not just the first) and ``run_s = 0``.
    """
    lockouts: list[str] = []
    reasons: list[str] = []

    def lock(code: str, why: str) -> None:
        lockouts.append(code)
        reasons.append(why)

    if zone.valve_device is None:
        lock("no_valve", f"zone {zone.zone} has no valve bound to it")
    if state.rain_last_24h_mm >= params.rain_24h_mm:
        lock("rain_24h", f"recent rain: {state.rain_last_24h_mm:.1f} mm in the last 24 h "
                         f"(skip at >= {params.rain_24h_mm:.1f} mm; FAO-56 water balance: rain "
                         "refills the root zone)")
    if state.rain_forecast_mm >= params.rain_forecast_mm:
        lock("rain_forecast", f"rain forecast: {state.rain_forecast_mm:.1f} mm expected "
                              f"(defer at >= {params.rain_forecast_mm:.1f} mm)")
    if state.air_temp_c is not None and state.air_temp_c <= params.freeze_c:
        lock("freeze", f"freezing: air {state.air_temp_c:.1f} °C <= {params.freeze_c:.1f} °C; "
                       "water left in pipes or on foliage would freeze")
    if state.valve_open:
        lock("valve_open", f"valve {zone.valve_device} is already open")
    if state.pending_cmd is not None:
        lock("cmd_pending", f"command {state.pending_cmd} to valve {zone.valve_device} "
                            "is still awaiting its ack")
    if state.last_irrigation_end_ms is not None:
        since_s = (now_ms - state.last_irrigation_end_ms) / MS_PER_S
        if since_s < zone.min_interval_s:
            lock("min_interval", f"last irrigation ended {since_s / 60:.0f} min ago "
                                 f"(minimum interval {zone.min_interval_s / 60:.0f} min)")
    remaining_s = int(zone.daily_max_s - state.open_s_today)
    if remaining_s < params.min_run_s:
        lock("daily_cap", f"daily cap reached: open {state.open_s_today:.0f} s of "
                          f"{zone.daily_max_s} s in the last 24 h")

    if lockouts:
        return Decision(False, tuple(reasons), 0, tuple(lockouts))

    run_s = zone.max_run_s
    if remaining_s < run_s:
        run_s = remaining_s
        reasons.append(f"run capped at the remaining daily budget {remaining_s} s "
                       f"(zone max {zone.max_run_s} s)")
    else:
        reasons.append(f"run {run_s} s (zone max run)")
    if state.air_temp_c is None:
        reasons.append("no recent air temperature: freeze lockout not checked")
    return Decision(True, tuple(reasons), run_s)
