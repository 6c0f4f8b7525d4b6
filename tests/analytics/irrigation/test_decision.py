"""The pure watering decision: MAD trigger, depth → run time → cycles, caps, lockouts."""

from __future__ import annotations

import json

import pytest

from greeniot.analytics.irrigation.decision import (
    WaterState,
    decide,
    decision_due,
    split_cycles,
)
from greeniot.analytics.irrigation.lockouts import Conditions, Forecast, Lockout, Verdict
from greeniot.estate import ZoneHydraulics

NOW = 1_780_000_000_000
DRIP = ZoneHydraulics(site="s", zone="drip", application_rate_mm_h=4.0, efficiency=0.9,
                      kind="drip", area_m2=50.0, max_run_s=3 * 3600, soak_s=1800)
SPRAY = ZoneHydraulics(site="s", zone="spray", application_rate_mm_h=40.0, efficiency=0.7,
                       kind="spray", area_m2=20.0, max_run_s=600, soak_s=1200)


def _state(dr: float, taw: float = 45.0, p: float = 0.5) -> WaterState:
    return WaterState(dr_mm=dr, taw_mm=taw, raw_mm=p * taw, et0_mm=5.0, etc_mm=4.0)


def test_below_raw_is_a_recorded_no() -> None:
    d = decide(DRIP, _state(10.0), Conditions(), now_ms=NOW, month=7)
    assert (d.outcome, d.water, d.run_s, d.rule) == ("not_needed", False, 0, "none")
    assert "no water needed" in d.reasons[0]
    json.dumps(d.record())  # storable as is


def test_drip_refills_to_field_capacity_in_cycles() -> None:
    d = decide(DRIP, _state(27.0), Conditions(), now_ms=NOW, month=7)
    assert d.outcome == "water" and d.rule == "mad"
    # 27 mm net / 0.9 = 30 mm gross at 4 mm/h = 7.5 h = 27000 s → 3 cycles of 9000 s.
    assert d.run_s == 27_000
    assert d.cycles_s == (9000, 9000, 9000) and d.soak_s == 1800
    assert d.gross_mm == pytest.approx(30.0) and d.net_mm == pytest.approx(27.0)
    assert d.volume_l == pytest.approx(1500.0)
    assert "3 cycles" in d.reasons[-1]
    assert "ET0 5.0 mm, Dr 27.0 mm" in d.line()


def test_target_depletion_and_daily_caps() -> None:
    zone = ZoneHydraulics(site="s", zone="z", application_rate_mm_h=12.0, efficiency=1.0,
                          area_m2=10.0, max_run_s=7200, target_dr_mm=5.0, daily_budget_l=150.0)
    d = decide(zone, _state(30.0), Conditions(volume_l_today=50.0), now_ms=NOW, month=7)
    # 25 mm wanted, 100 l left over 10 m² = 10 mm → 3000 s at 12 mm/h.
    assert d.gross_mm == pytest.approx(10.0) and d.run_s == 3000
    assert any("daily water budget" in r for r in d.reasons)
    timed = ZoneHydraulics(site="s", zone="z", application_rate_mm_h=12.0, efficiency=1.0,
                           daily_max_s=3600)
    d = decide(timed, _state(30.0), Conditions(run_s_today=3000.0), now_ms=NOW, month=7)
    assert d.run_s == 600 and any("daily run budget" in r for r in d.reasons)
    d = decide(timed, _state(30.0), Conditions(run_s_today=3590.0), now_ms=NOW, month=7)
    assert d.outcome == "locked_out" and d.lockouts == (Lockout.DAILY_BUDGET,)


@pytest.mark.parametrize(("zone", "cond", "code"), [
    (DRIP, Conditions(rain_observed_24h_mm=6.0), Lockout.RAIN_OBSERVED),
    (DRIP, Conditions(forecast=Forecast(rain_today_mm=5.0)), Lockout.RAIN_FORECAST),
    (DRIP, Conditions(air_temp_c=1.5), Lockout.FROST),
    (DRIP, Conditions(air_temp_c=8.0, forecast=Forecast(temp_min_c=2.0)), Lockout.FROST),
    (SPRAY, Conditions(wind_ms=6.0), Lockout.HIGH_WIND),
    (SPRAY, Conditions(forecast=Forecast(wind_ms=4.5)), Lockout.HIGH_WIND),
    (DRIP, Conditions(last_watering_end_ms=NOW - 3600_000), Lockout.MIN_INTERVAL),
])
def test_each_lockout_blocks_with_its_code(zone: ZoneHydraulics, cond: Conditions,
                                           code: Lockout) -> None:
    d = decide(zone, _state(30.0), cond, now_ms=NOW, month=7)
    assert d.outcome == "locked_out" and not d.water and d.run_s == 0
    assert d.lockouts == (code,)
    assert d.reasons[0].startswith("Dr 30.0 mm + today's ETc 4.0 mm >= RAW")


def test_near_misses_do_not_lock() -> None:
    cond = Conditions(rain_observed_24h_mm=4.9, air_temp_c=2.1, wind_ms=6.0,
                      last_watering_end_ms=NOW - 7 * 3600_000,
                      forecast=Forecast(rain_today_mm=4.9, rain_tomorrow_mm=30.0,
                                        temp_min_c=2.1))
    d = decide(DRIP, _state(30.0), cond, now_ms=NOW, month=7)  # wind does not matter to drip
    assert d.outcome == "water" and d.lockouts == ()


def test_interlocks_from_the_executor_pass_through() -> None:
    d = decide(DRIP, _state(30.0), Conditions(), now_ms=NOW, month=7,
               interlocks=[Verdict("valve_open", "valve is already open")])
    assert d.lockouts == ("valve_open",) and d.outcome == "locked_out"


def test_winter_watering_before_a_forecast_freeze() -> None:
    freeze = Conditions(air_temp_c=6.0, forecast=Forecast(temp_min_c=3.0,
                                                          temp_min_tomorrow_c=-4.0))
    d = decide(DRIP, _state(12.0), freeze, now_ms=NOW, month=12)
    assert d.outcome == "water" and d.rule == "winter_watering"
    assert d.net_mm == pytest.approx(12.0, abs=0.01)
    assert "winter watering" in d.reasons[0]
    # Not in summer, not on a frosty day, not when the soil is already near field capacity.
    assert decide(DRIP, _state(12.0), freeze, now_ms=NOW, month=7).outcome == "not_needed"
    frosty = Conditions(air_temp_c=1.0, forecast=freeze.forecast)
    assert decide(DRIP, _state(12.0), frosty, now_ms=NOW, month=12).lockouts == (Lockout.FROST,)
    assert decide(DRIP, _state(3.0), freeze, now_ms=NOW, month=12).outcome == "not_needed"


def test_split_cycles_and_bad_zone() -> None:
    assert split_cycles(1000, 300) == (250, 250, 250, 250)
    assert split_cycles(1001, 1000) == (501, 500)
    assert split_cycles(0, 100) == ()
    with pytest.raises(ValueError, match="application_rate_mm_h"):
        ZoneHydraulics(site="s", zone="z", application_rate_mm_h=0.0)
    with pytest.raises(ValueError, match="efficiency"):
        ZoneHydraulics(site="s", zone="z", application_rate_mm_h=4.0, efficiency=1.5)


def test_decision_due_once_per_local_day() -> None:
    h = 3_600_000
    day0 = 1_780_012_800_000 - (1_780_012_800_000 % (24 * h))  # a UTC midnight
    # Site at UTC+8, decision hour 05:00 local = 21:00 UTC.
    assert not decision_due(now_ms=day0 + 20 * h, utc_offset_h=8, hour_local=5,
                            last_decision_ms=day0 - 2 * h)
    assert decision_due(now_ms=day0 + 21 * h, utc_offset_h=8, hour_local=5,
                        last_decision_ms=day0 - 2 * h)
    assert not decision_due(now_ms=day0 + 23 * h, utc_offset_h=8, hour_local=5,
                            last_decision_ms=day0 + 21 * h)
    assert decision_due(now_ms=day0 + 45 * h, utc_offset_h=8, hour_local=5,
                        last_decision_ms=day0 + 21 * h)
    # Nothing decided yet: not before today's decision hour (a start at midnight waits for
    # 05:00), at once after it.
    assert not decision_due(now_ms=day0, utc_offset_h=0, hour_local=5, last_decision_ms=None)
    assert decision_due(now_ms=day0 + 5 * h, utc_offset_h=0, hour_local=5,
                        last_decision_ms=None)
    assert decision_due(now_ms=day0 + 13 * h, utc_offset_h=0, hour_local=5,
                        last_decision_ms=None)


def test_anticipation_refills_the_morning_before_raw_is_crossed() -> None:
    # Dr 20 mm, RAW 22.5 mm, today's ETc 4 mm: by tonight the zone would be past RAW.
    assert decide(DRIP, _state(20.0), Conditions(), now_ms=NOW, month=7).outcome == "water"
    late = decide(DRIP, _state(20.0), Conditions(), now_ms=NOW, month=7, anticipate=False)
    assert late.outcome == "not_needed" and late.reasons[0].startswith("Dr 20.0 mm < RAW")


def test_the_posterior_rule_waits_for_confidence_and_widens_with_the_spread() -> None:
    """With a spread, water only when P(Dr + ETc ≥ RAW) ≥ confidence: at the mean trigger
    (Dr + ETc = RAW) the probability is 1/2, so no; z·sd past it, yes. A texture-default
    RAW spread needs more depletion than a soil test's."""
    from dataclasses import replace
    from statistics import NormalDist

    from greeniot.analytics.irrigation.decision import ETC_DAY_REL_SD, need_sd_mm

    base = replace(_state(22.5 - 4.0), dr_sd_mm=3.0, raw_sd_mm=2.0)
    sd = need_sd_mm(base)
    assert sd == pytest.approx((3.0 ** 2 + 2.0 ** 2 + (ETC_DAY_REL_SD * 4.0) ** 2) ** 0.5)
    assert decide(DRIP, base, Conditions(), now_ms=NOW, month=7).water  # the mean rule: yes
    at_mean = decide(DRIP, base, Conditions(), now_ms=NOW, month=7, confidence=0.8)
    assert at_mean.outcome == "not_needed" and "P ≥ 0.8" in at_mean.reasons[0]
    z = NormalDist().inv_cdf(0.8)
    past = replace(base, dr_mm=base.dr_mm + z * sd + 0.05)
    assert decide(DRIP, past, Conditions(), now_ms=NOW, month=7, confidence=0.8).water
    wide = replace(past, raw_sd_mm=6.0)
    assert not decide(DRIP, wide, Conditions(), now_ms=NOW, month=7, confidence=0.8).water
    # No spread known: the mean rule applies; a confidence outside 0.5..1 is refused.
    assert decide(DRIP, replace(base, dr_sd_mm=None), Conditions(), now_ms=NOW, month=7,
                  confidence=0.8).water
    with pytest.raises(ValueError, match="confidence"):
        decide(DRIP, base, Conditions(), now_ms=NOW, month=7, confidence=1.0)


def test_the_learned_et_scale_spread_enters_the_need() -> None:
    """The packed covariance's Var(k) and Cov(Dr, k) add (Kc·ET0)² Var(k) + 2 Kc·ET0 Cov."""
    from dataclasses import replace

    import numpy as np

    from greeniot.analytics.irrigation import estimator
    from greeniot.analytics.irrigation.decision import need_sd_mm

    est = estimator.initial(np.array([10.0]), dr_sd_mm=3.0, root_depth_m=np.array([0.4]),
                            et_scale_sd=0.2)
    packed = tuple(estimator.pack(est)[0].tolist())
    s = replace(_state(10.0), dr_sd_mm=3.0, et_scale=1.0)
    plain = need_sd_mm(s)
    with_k = need_sd_mm(replace(s, estimator=packed))
    assert plain is not None and with_k is not None
    assert with_k ** 2 == pytest.approx(plain ** 2 + (4.0 * 0.2) ** 2)
