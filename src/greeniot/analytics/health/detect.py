"""Device health: offline, low battery, stuck or noisy sensors. Pure.

Arrays are (devices × samples) of a device's newest readings in time order (oldest first), as
:meth:`greeniot.analytics.windows.Windows.tail` gives them. All thresholds are project choices
for our own nodes, in :class:`greeniot.analytics.params.HealthParams`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import F64, Bool, as_1d, as_2d, masked_median
from greeniot.analytics.params import HealthParams


def reporting_interval_s(ts_ms: np.ndarray, default_s: np.ndarray,
                         params: HealthParams) -> F64:
    """Each device's own reporting interval [s]: the median gap between its newest readings.

    Devices with fewer than ``params.interval_min_samples`` readings get ``default_s``. The
    median ignores the odd gap of an offline spell or a flushed offline buffer.

    Parameters
    ----------
    ts_ms : (devices, samples) int64 [ms UTC] in time order, 0 = empty
    default_s : (devices,) assumed interval [s]
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    default = as_1d("default_s", default_s, ts.shape[0], np.float64)
    valid = ts > 0
    gaps = np.diff(ts, axis=1) / 1000.0
    gap_ok = valid[:, 1:] & valid[:, :-1] & (gaps > 0)
    med = masked_median(gaps, gap_ok)
    enough = valid.sum(axis=1) >= params.interval_min_samples
    return np.where(enough & np.isfinite(med), med, default)


@dataclass(frozen=True, slots=True)
class Silence:
    """Per device: seconds since the newest reading, and the limit it is compared with."""

    silence_s: F64
    limit_s: F64


def offline(newest_ts_ms: np.ndarray, interval_s: np.ndarray, params: HealthParams,
            now_ms: int) -> Silence:
    """A device is offline once it has been silent ``params.offline_factor`` × its interval.

    Three missed readings, not one: a single lost QoS-1 message is resent, a device's clock
    jitters, and a node may defer a reading while its radio reconnects.

    Parameters
    ----------
    newest_ts_ms : (devices,) newest reading [ms UTC], 0 = never
    interval_s : (devices,) from :func:`reporting_interval_s` [s]
    params : HealthParams
    now_ms : int, event time [ms UTC]
    """
    newest = as_1d("newest_ts_ms", newest_ts_ms, None, np.int64)
    interval = as_1d("interval_s", interval_s, newest.size, np.float64)
    silence = np.where(newest > 0, (now_ms - newest) / 1000.0, np.nan)
    return Silence(silence, params.offline_factor * interval)


def battery_v(bat_v: np.ndarray, k: int = 3) -> F64:
    """Median of each device's newest ``k`` battery readings [V] (NaN if none).

    A transmit burst sags a cell's voltage for one reading; the median ignores it.

    Parameters
    ----------
    bat_v : (devices, samples) [V] in time order, NaN where not reported
    """
    v = as_2d("bat_v", bat_v, np.float64)
    valid = np.isfinite(v)
    from_end = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]
    return masked_median(v, valid & (from_end <= k))


def battery_levels(bat_v: np.ndarray, params: HealthParams) -> tuple[np.ndarray, np.ndarray]:
    """Low-battery level to raise and to keep: 2 below ``battery_warning_v``, 3 below
    ``battery_critical_v``; kept until ``battery_hysteresis_v`` above the threshold (a cell
    recovers a little when the load stops).

    Returns
    -------
    (on, hold): int8 arrays for :func:`greeniot.analytics.latch.latch`.
    """
    v = np.asarray(bat_v, np.float64)
    h = params.battery_hysteresis_v
    with np.errstate(invalid="ignore"):
        on = np.where(v < params.battery_critical_v, 3,
                      np.where(v < params.battery_warning_v, 2, 0)).astype(np.int8)
        hold = np.where(v < params.battery_critical_v + h, 3,
                        np.where(v < params.battery_warning_v + h, 2, 0)).astype(np.int8)
    return on, hold


def stuck(values: np.ndarray, n_samples: np.ndarray | int) -> Bool:
    """True where a device's newest ``n_samples`` readings are all present and exactly equal.

    Every live sensor has some noise in its last digits; a value frozen over many readings is
    a hung ADC, a frozen firmware loop or a sensor replaced by a constant.

    Parameters
    ----------
    values : (devices, samples) in time order, NaN where missing
    n_samples : (devices,) or scalar, how many newest readings must agree (0 = never stuck)
    """
    v = as_2d("values", values, np.float64)
    rows, w = v.shape
    n = as_1d("n_samples", n_samples, rows, np.int64)
    pos_from_end = w - np.arange(w)  # 1 = newest
    use = pos_from_end[None, :] <= n[:, None]
    present = np.where(use, np.isfinite(v), True).all(axis=1)
    last = v[:, -1:] if w else np.zeros((rows, 1))
    same = np.where(use, v == last, True).all(axis=1)
    return np.asarray(present & same & (n > 0) & (n <= w), bool)


def successive_noise(values: np.ndarray, n_samples: int) -> F64:
    """Median absolute difference between successive readings among the newest ``n_samples``.

    A sensor with a loose wire or failing ADC jumps between readings all the time; a real
    change (a tree leaning after a storm, irrigation) is one jump, which the median ignores.
    NaN with fewer than 3 differences.

    Parameters
    ----------
    values : (devices, samples) in time order, NaN where missing
    """
    v = as_2d("values", values, np.float64)[:, -n_samples:]
    d = np.abs(np.diff(v, axis=1))
    ok = np.isfinite(d)
    med = masked_median(d, ok)
    med[ok.sum(axis=1) < 3] = np.nan
    return med



def out_of_range_frac(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      n_samples: int) -> F64:
    """Fraction of the newest ``n_samples`` readings outside ``[lo, hi]`` (NaN if none).

    For readings the protocol accepts but the sensor cannot honestly produce: a capacitive
    probe that reads exactly 0 % or 100 % VWC sits at its ADC rail (open or shorted).

    Parameters
    ----------
    values : (devices, samples) in time order, NaN where missing
    lo, hi : (devices,) plausible range per device, in the values' unit
    """
    v = as_2d("values", values, np.float64)[:, -n_samples:]
    rows = v.shape[0]
    lo_ = as_1d("lo", lo, rows, np.float64)
    hi_ = as_1d("hi", hi, rows, np.float64)
    present = np.isfinite(v)
    n = present.sum(axis=1)
    out = present & ((v < lo_[:, None]) | (v > hi_[:, None]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, out.sum(axis=1) / np.maximum(n, 1), np.nan)
