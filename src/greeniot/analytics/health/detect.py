"""Device health: offline, low battery, stuck, noisy or out-of-range sensors. Pure.

Arrays are (devices × samples) of a device's newest readings in time order (oldest first), as
:meth:`greeniot.analytics.core.windows.Windows.tail` gives them. Every number a detector uses
is a keyword argument (pvlib style); the values and their sources are in
:class:`greeniot.analytics.params.HealthParams`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from greeniot.analytics.core.rowstats import F64, Bool, as_1d, as_2d, masked_median

I64 = np.ndarray


def reporting_interval_s(ts_ms: np.ndarray, default_s: np.ndarray, *,
                         min_samples: int) -> F64:
    """Each device's own reporting interval [s]: the median gap between its newest readings.

    Devices with fewer than ``min_samples`` readings get ``default_s``. The median ignores the
    odd gap of an offline spell or a flushed offline buffer.

    Parameters
    ----------
    ts_ms : (devices, samples) int64 [ms UTC] in time order, 0 = empty
    default_s : (devices,) assumed interval [s]
    min_samples : readings needed before the device's own interval is trusted
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    default = as_1d("default_s", default_s, ts.shape[0], np.float64)
    valid = ts > 0
    gaps = np.diff(ts, axis=1) / 1000.0
    gap_ok = valid[:, 1:] & valid[:, :-1] & (gaps > 0)
    med = masked_median(gaps, gap_ok)
    enough = valid.sum(axis=1) >= min_samples
    return np.where(enough & np.isfinite(med), med, default)


@dataclass(frozen=True, slots=True)
class Silence:
    """Per device: seconds since the newest reading, and the limit it is compared with."""

    silence_s: F64
    limit_s: F64

    @property
    def offline(self) -> Bool:
        with np.errstate(invalid="ignore"):
            return np.asarray(self.silence_s >= self.limit_s, bool)


def offline(newest_ts_ms: np.ndarray, interval_s: np.ndarray, *, offline_factor: float,
            min_silence_s: float, now_ms: int, wake_ms: np.ndarray | None = None) -> Silence:
    """A device is offline once silent for ``offline_factor`` × its interval (at least
    ``min_silence_s``) — or, if it announced a planned sleep or shutdown, once it missed its
    announced wake-up ``wake_ms`` by that same margin.

    Three missed readings, not one: a single lost QoS-1 message is resent, a device's clock
    jitters, and a node may defer a reading while its radio reconnects.

    Parameters
    ----------
    newest_ts_ms : (devices,) newest reading [ms UTC], 0 = never
    interval_s : (devices,) from :func:`reporting_interval_s` [s]
    offline_factor : missed intervals that make a device offline [-]
    min_silence_s : the shortest silence judged offline [s] (network and clock jitter)
    now_ms : event time [ms UTC]
    wake_ms : (devices,) announced next wake-up [ms UTC]; 0 = none announced, -1 = a planned
        shutdown without a wake-up (never offline until it speaks again)
    """
    newest = as_1d("newest_ts_ms", newest_ts_ms, None, np.int64)
    interval = as_1d("interval_s", interval_s, newest.size, np.float64)
    margin_s = np.maximum(offline_factor * interval, min_silence_s)
    silence = np.where(newest > 0, (now_ms - newest) / 1000.0, np.nan)
    limit = margin_s.copy()
    if wake_ms is not None:
        wake = as_1d("wake_ms", wake_ms, newest.size, np.int64)
        planned = wake > newest
        # silent since the newest reading, allowed up to the announced wake-up plus the margin
        limit = np.where(planned, (wake - newest) / 1000.0 + margin_s, limit)
        limit = np.where(wake == -1, np.inf, limit)
    return Silence(silence, limit)


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


def battery_levels(bat_v: np.ndarray, *, warning_v: np.ndarray | float,
                   critical_v: np.ndarray | float, hysteresis_v: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Low-battery level to raise and to keep: 2 below ``warning_v``, 3 below ``critical_v``
    (per device: thresholds depend on the chemistry); kept until ``hysteresis_v`` above the
    threshold (a cell recovers a little when the load stops).

    Returns
    -------
    (on, hold): int8 arrays for :func:`greeniot.analytics.core.latch.latch`.
    """
    v = np.asarray(bat_v, np.float64)
    warn = np.broadcast_to(np.asarray(warning_v, np.float64), v.shape)
    crit = np.broadcast_to(np.asarray(critical_v, np.float64), v.shape)
    h = hysteresis_v
    with np.errstate(invalid="ignore"):
        on = np.where(v < crit, 3, np.where(v < warn, 2, 0)).astype(np.int8)
        hold = np.where(v < crit + h, 3, np.where(v < warn + h, 2, 0)).astype(np.int8)
    return on, hold


def stuck_samples(values: np.ndarray, *, false_alarm_p: float, min_samples: int,
                  max_samples: np.ndarray | int, min_history: int) -> np.ndarray:
    """How many equal newest readings prove a sensor stuck, from the sensor's own noise.

    A live sensor read through an ADC repeats its previous value with probability ``p`` that
    falls as its noise grows against its resolution: for Gaussian noise σ quantised in steps
    q (σ ≳ q), two readings of the same quantity agree with ``p ≈ q / (2σ√π)`` (the density of
    the difference of two readings, N(0, 2σ²), at 0, times q) [Widrow2008]. ``n`` equal
    readings happen by chance with about ``p^(n−1)``, so ``n = 1 + ⌈ln α / ln p⌉`` keeps the
    chance of a false stuck alarm per check at ``α = false_alarm_p``.

    σ is estimated per device from its successive differences (σ̂ = 1.4826·MAD(Δ)/√2, robust to
    the odd real step), q as the smallest non-zero difference seen (never smaller than the true
    step), and ``p`` is at least the share of equal successive readings actually seen — all
    over the device's window *before* its newest run of equal readings, so the run being
    judged does not vote on itself.

    Trade-off: a noisy sensor is proven stuck in a few readings (tilt: 4–6, soil with a few
    ADC counts of noise: 6–12), a quiet one (noise below its resolution) needs up to
    ``max_samples`` — a lower ``α`` finds stuck sensors later and raises fewer false alarms.

    Parameters
    ----------
    values : (devices, samples) in time order, NaN where missing
    false_alarm_p : α, accepted chance that a live sensor looks stuck at one check [-]
    min_samples, max_samples : bounds of the answer (max per device or scalar)
    min_history : successive differences needed to estimate the noise; with fewer the
        answer is ``max_samples``

    References
    ----------
    [Widrow2008] B. Widrow, I. Kollár, "Quantization Noise", Cambridge University Press 2008,
        ch. 4–5 (quantisation of a Gaussian signal), doi:10.1017/CBO9780511754661.
    """
    v = as_2d("values", values, np.float64)
    rows = v.shape[0]
    n_max = as_1d("max_samples", max_samples, rows, np.int64)
    if v.shape[1] < 2:
        return n_max.copy()
    d = np.diff(v, axis=1)
    ok = np.isfinite(d)
    zero = ok & (d == 0)
    # length of the newest run of equal readings (trailing zero differences)
    run = np.cumprod(zero[:, ::-1], axis=1).sum(axis=1)
    pos = np.arange(d.shape[1])
    before = ok & (pos[None, :] < (d.shape[1] - run)[:, None])
    absd = np.abs(d)
    sigma = 1.4826 * masked_median(absd, before) / np.sqrt(2.0)
    q = np.where(before & (absd > 0), absd, np.inf).min(axis=1)
    count = before.sum(axis=1)
    seen = (np.where(before, zero, False).sum(axis=1) + 1.0) / (count + 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_model = np.where((sigma > 0) & np.isfinite(q), q / (2.0 * sigma * np.sqrt(np.pi)), 1.0)
        p = np.clip(np.fmax(p_model, seen), 1e-12, 1.0)
        n = 1.0 + np.ceil(np.log(false_alarm_p) / np.log(p))
    n = np.where((p >= 1.0) | ~np.isfinite(n) | (count < min_history), n_max, n)
    return np.clip(n, min_samples, n_max).astype(np.int64)


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


def successive_noise(values: np.ndarray, *, n_samples: int) -> F64:
    """Median absolute difference between successive readings among the newest ``n_samples``.

    A sensor with a loose wire or failing ADC jumps between readings all the time; a real
    change (a tree leaning after a storm, irrigation) is one jump, which the median ignores.
    NaN with fewer than 3 differences.

    Parameters
    ----------
    values : (devices, samples) in time order, NaN where missing
    n_samples : newest readings considered
    """
    v = as_2d("values", values, np.float64)[:, -n_samples:]
    d = np.abs(np.diff(v, axis=1))
    ok = np.isfinite(d)
    med = masked_median(d, ok)
    med[ok.sum(axis=1) < 3] = np.nan
    return med


def out_of_range_frac(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
                      n_samples: int) -> F64:
    """Fraction of the newest ``n_samples`` readings outside ``[lo, hi]`` (NaN if none).

    For readings the protocol accepts but the sensor cannot honestly produce: a capacitive
    probe that reads exactly 0 % or 100 % VWC sits at its ADC rail (open or shorted).

    Parameters
    ----------
    values : (devices, samples) in time order, NaN where missing
    lo, hi : (devices,) plausible range per device, in the values' unit
    n_samples : newest readings considered
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


def flagged_frac(ts_ms: np.ndarray, flagged_ts_ms: np.ndarray, flagged_rows: np.ndarray, *,
                 n_samples: int) -> F64:
    """Fraction of each device's newest ``n_samples`` readings that were flagged implausible
    (:mod:`greeniot.protocol.plausible`), NaN without readings.

    Parameters
    ----------
    ts_ms : (devices, samples) [ms UTC] in time order, 0 = empty
    flagged_ts_ms, flagged_rows : (k,) the time and row of every flagged reading held
    n_samples : newest readings considered
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)[:, -n_samples:]
    rows = ts.shape[0]
    present = ts > 0
    n = present.sum(axis=1)
    hit = np.zeros(ts.shape, bool)
    if flagged_rows.size:
        keys = flagged_rows.astype(np.int64) * (1 << 44) + (flagged_ts_ms.astype(np.int64)
                                                             & ((1 << 44) - 1))
        grid = np.arange(rows, dtype=np.int64)[:, None] * (1 << 44) + (ts & ((1 << 44) - 1))
        hit = np.isin(grid, keys) & present
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hit.sum(axis=1) / np.maximum(n, 1), np.nan)
