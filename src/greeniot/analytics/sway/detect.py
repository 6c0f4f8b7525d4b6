"""Tree sway from tilt bursts: in-band RMS and dominant frequency; frequency drop. Pure.

A burst is a few minutes of pitch/roll sampled evenly at 10–20 Hz [Domain]. Large trees sway
near 0.1 Hz and small ones up to ~1 Hz, so the band is 0.05–3 Hz [Domain]. A drop in a tree's
*own* sway frequency can mean lost anchorage [Domain]; leaves lower the frequency too
[Leaves], so the comparison is with the tree's recent past, never a fixed figure.

References: see :mod:`greeniot.analytics.params` ([Domain], [Leaves]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from greeniot.analytics.core.rowstats import F64, I64, as_2d, masked_median, same_shape
from greeniot.analytics.params import SWAY_PARAMS
from greeniot.clock import MS_PER_DAY


@dataclass(frozen=True, slots=True)
class SwayFeatures:
    """Per burst: in-band sway RMS [deg] (pitch and roll combined), dominant frequency [Hz]
    (NaN when no clear peak), and how far the peak stands above the band's median PSD."""

    rms_deg: F64
    freq_hz: F64
    peak_ratio: F64
    damping: F64 | None = None  # damping ratio ζ [-] (autocorrelation decay), NaN unknown


_SW = SWAY_PARAMS["default"]  # keyword defaults


def _band(hz: float, band_low_hz: float, band_high_hz: float) -> tuple[float, float]:
    hi = min(band_high_hz, 0.45 * hz)
    if not hi > band_low_hz:
        raise ValueError(f"hz={hz} is too low for the sway band starting at "
                         f"{band_low_hz} Hz")
    return band_low_hz, hi


def sway_features(pitch_deg: np.ndarray, roll_deg: np.ndarray, hz: float, *,
                  band_low_hz: float = _SW.band_low_hz,
                  band_high_hz: float = _SW.band_high_hz,
                  filter_order: int = _SW.filter_order, min_samples: int = _SW.min_samples,
                  min_peak_ratio: float = _SW.min_peak_ratio,
                  min_rms_deg: float = _SW.min_rms_deg) -> SwayFeatures:
    """RMS and dominant frequency of many bursts of equal length and rate at once.

    RMS: each axis is band-passed (Butterworth of ``filter_order``, second-order
    sections, applied forward and backward so the phase is untouched: ``sosfiltfilt``), then
    ``sqrt(mean(p² + r²))``. Frequency: Welch PSD of both axes (burst detrended linearly, Hann
    segments of half the burst, 50 % overlap, zero-padded to a power of two ≥ 2× the
    segment), summed; the in-band maximum, refined by
    a parabola through its neighbours. Reported only if the peak is at least
    ``min_peak_ratio`` × the band's median PSD and the RMS at least ``min_rms_deg`` [deg]:
    otherwise sensor noise decides where the maximum falls.

    Parameters
    ----------
    pitch_deg, roll_deg : (bursts, samples) tilt [deg], evenly sampled
    hz : float, sampling rate [Hz], the same for every row
    band_low_hz, band_high_hz : sway band [Hz] (0.05–3 Hz [Domain]; the top is capped at
        0.45 × ``hz``)
    filter_order, min_samples, min_peak_ratio, min_rms_deg : see ``SwayParams``

    Returns
    -------
    SwayFeatures, one entry per burst, with the damping ratio of :func:`modal_damping`.

    Notes
    -----
    Frequency resolution is about ``2·hz/samples`` before interpolation: a 2-min burst at
    10 Hz resolves ~0.017 Hz, refined well below that for a clean peak. Rows containing NaN
    give NaN.
    """
    p = as_2d("pitch_deg", pitch_deg, np.float64)
    r = as_2d("roll_deg", roll_deg, np.float64)
    same_shape(p.shape, roll_deg=r)
    if not hz > 0:
        raise ValueError(f"hz must be > 0, got {hz}")
    rows, n = p.shape
    if n < min_samples:
        raise ValueError(f"pitch_deg has {n} samples per burst, sway needs >= "
                         f"{min_samples}")
    lo, hi = _band(hz, band_low_hz, band_high_hz)
    bad = ~(np.isfinite(p).all(axis=1) & np.isfinite(r).all(axis=1))
    p = np.where(bad[:, None], 0.0, p)
    r = np.where(bad[:, None], 0.0, r)
    both = detrend_rows(np.concatenate([p, r], axis=0))
    p, r = both[:rows], both[rows:]

    rms = _band_rms(p, r, hz, lo, hi, filter_order)

    nperseg = max(min_samples // 2, n // 2)
    nfft = int(2 ** np.ceil(np.log2(2 * nperseg)))
    f, pxx = welch_psd(both, hz, nperseg, nfft)
    psd = pxx[:rows] + pxx[rows:]
    band = np.flatnonzero((f >= lo) & (f <= hi))
    sub = psd[:, band]
    k = sub.argmax(axis=1)
    peak = sub[np.arange(rows), k]
    floor = np.median(sub, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = peak / floor
        km = np.clip(k, 1, band.size - 2)
        a = sub[np.arange(rows), km - 1]
        b = sub[np.arange(rows), km]
        c = sub[np.arange(rows), km + 1]
        denom = a - 2 * b + c
        delta = np.where((k == km) & (denom < 0), 0.5 * (a - c) / denom, 0.0)
    df = f[1] - f[0]
    freq = f[band][k] + np.clip(delta, -0.5, 0.5) * df
    trusted = (ratio >= min_peak_ratio) & (rms >= min_rms_deg)
    freq = np.where(trusted, freq, np.nan)
    for arr in (rms, freq, ratio):
        arr[bad] = np.nan
    zeta = modal_damping(p, r, hz, freq, band_low_hz=lo, band_high_hz=hi)
    zeta[bad] = np.nan
    return SwayFeatures(rms, freq, ratio, zeta)


#: Grids of the modal fit: damping ratios [-] (log-spaced) and natural frequency as a multiple
#: of the spectral peak (a damped mode's displacement peak lies at ``f0·sqrt(1 − 2ζ²)``).
ZETA_GRID = np.geomspace(0.01, 0.6, 32)
F0_GRID = np.linspace(0.9, 1.3, 15)


def modal_damping(pitch_deg: np.ndarray, roll_deg: np.ndarray, hz: float, peak_hz: np.ndarray,
                  *, band_low_hz: float = _SW.band_low_hz,
                  band_high_hz: float = _SW.band_high_hz, span: float = 1.6) -> F64:
    """Damping ratio ζ of each burst's sway mode from its spectrum [-] (Whittle fit).

    A tree's sway under turbulent wind is a damped mode driven by broadband forcing; its
    periodogram ``I(f)`` scatters (χ²) around ``A·g(f)`` with the displacement response
    ``g(f) = 1 / ((f0² − f²)² + (2ζ·f0·f)²)``. The Whittle likelihood
    ``Σ log(A·g) + I/(A·g)`` over the bins within ``peak/span … peak·span`` (pitch and roll
    periodograms summed: one mode) is minimized on a grid of ``f0`` and ``ζ`` (``A`` in
    closed form, ζ refined by a parabola in log ζ). This is the half-power bandwidth idea
    (``2ζ ≈ Δf/f0``) with every bin used; it needs no free decay, and a free decay's spectrum
    has the same shape. Why not the autocorrelation decay: one burst under wind holds only a
    few correlation times, and its autocorrelation's peaks decay far slower than the mode's
    (ζ read 0.02–0.06 whatever the true 0.05–0.3; see the tests).

    Parameters
    ----------
    pitch_deg, roll_deg : (bursts, samples) sway [deg], detrended, evenly sampled
    hz : sampling rate [Hz]
    peak_hz : (bursts,) spectral peak [Hz]; NaN skips the burst
    band_low_hz, band_high_hz : the fit stays in the sway band [Hz]
    span : the fit uses ``peak/span … peak·span``

    Returns
    -------
    (bursts,) ζ, NaN without a peak or with fewer than 8 bins in the fit.

    Notes
    -----
    Resolution is one bin, ``hz/samples``: a half-power width ``2ζ·f0`` needs a few bins, so
    300 s at 10 Hz resolves ζ ≈ 0.05 at 0.1 Hz (width 0.01 Hz, three bins). The forcing is
    taken as flat over the fitted span; wind's falling spectrum biases ζ slightly.
    """
    p = as_2d("pitch_deg", pitch_deg, np.float64)
    r = as_2d("roll_deg", roll_deg, np.float64)
    same_shape(p.shape, roll_deg=r)
    rows, n = p.shape
    pk = np.asarray(peak_hz, np.float64).ravel()
    if pk.size != rows:
        raise ValueError(f"peak_hz has {pk.size} entries, pitch_deg has {rows} rows")
    out = np.full(rows, np.nan)
    ok = np.flatnonzero(np.isfinite(pk) & (pk > 0))
    if ok.size == 0:
        return out
    spec = np.abs(np.fft.rfft(p[ok], axis=1)) ** 2 + np.abs(np.fft.rfft(r[ok], axis=1)) ** 2
    df = hz / n
    pko = pk[ok]
    # below the band the fit may go down to the third bin (a linear detrend flattens the
    # first two): a 0.05 Hz mode's lower half lies there
    k_lo = np.ceil(np.maximum(pko / span, min(band_low_hz, 2.5 * df)) / df).astype(np.int64)
    k_hi = np.floor(np.minimum(pko * span, band_high_hz) / df).astype(np.int64)
    k_hi = np.minimum(k_hi, spec.shape[1] - 1)
    width = int(max(1, (k_hi - k_lo).max() + 1))
    # each burst's own bins side by side: (bursts, width), masked past its top bin
    idx = k_lo[:, None] + np.arange(width)[None, :]
    use = idx <= k_hi[:, None]
    idx = np.minimum(idx, spec.shape[1] - 1)
    fb = (idx * df)[:, None, :]
    pgram = np.where(use, np.take_along_axis(spec, idx, axis=1), 0.0)[:, None, :]
    u3 = use[:, None, :]
    m = use.sum(axis=1)
    z = ZETA_GRID[None, :, None]
    best = np.full((ok.size, ZETA_GRID.size), np.inf)
    for c in F0_GRID:  # a loop over 15 frequencies, each over every burst and ζ at once
        f0 = (c * pko)[:, None, None]
        inv_g = (f0 * f0 - fb * fb) ** 2 + (2.0 * z * f0 * fb) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(u3, pgram * inv_g, 0.0).sum(axis=2) / m[:, None]
            obj = -np.where(u3, np.log(inv_g), 0.0).sum(axis=2) + m[:, None] * np.log(a)
        best = np.minimum(best, np.where(np.isfinite(obj), obj, np.inf))
    k = best.argmin(axis=1)
    ar = np.arange(ok.size)
    kk = np.clip(k, 1, ZETA_GRID.size - 2)
    lz = np.log(ZETA_GRID)
    y0, y1, y2 = best[ar, kk - 1], best[ar, kk], best[ar, kk + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        den = y0 - 2 * y1 + y2
        d = np.where((k == kk) & (den > 0), 0.5 * (y0 - y2) / den, 0.0)
    step = lz[1] - lz[0]
    zeta = np.exp(lz[kk] + np.clip(d, -0.5, 0.5) * step)
    zeta = np.where(k == kk, zeta, ZETA_GRID[k])
    out[ok] = np.where((m >= 8) & np.isfinite(best[ar, k]), zeta, np.nan)
    return out


def _band_rms(p: np.ndarray, r: np.ndarray, hz: float, lo: float, hi: float,
              filter_order: int) -> F64:
    sos = signal.butter(filter_order, [lo, hi], btype="bandpass", fs=hz, output="sos")
    fp = signal.sosfiltfilt(sos, p, axis=1)
    fr = signal.sosfiltfilt(sos, r, axis=1)
    return np.asarray(np.sqrt(np.mean(fp * fp + fr * fr, axis=1)), np.float64)


def sway_rms(pitch_deg: np.ndarray, roll_deg: np.ndarray, hz: float, *,
             band_low_hz: float = _SW.band_low_hz, band_high_hz: float = _SW.band_high_hz,
             filter_order: int = _SW.filter_order) -> F64:
    """In-band sway RMS [deg] of bursts, exactly as :func:`sway_features` computes it (linear
    detrend, band-pass forward and backward, both axes); NaN rows give NaN."""
    p = as_2d("pitch_deg", pitch_deg, np.float64)
    r = as_2d("roll_deg", roll_deg, np.float64)
    same_shape(p.shape, roll_deg=r)
    if not hz > 0:
        raise ValueError(f"hz must be > 0, got {hz}")
    lo, hi = _band(hz, band_low_hz, band_high_hz)
    rows = p.shape[0]
    bad = ~(np.isfinite(p).all(axis=1) & np.isfinite(r).all(axis=1))
    both = detrend_rows(np.concatenate([np.where(bad[:, None], 0.0, p),
                                        np.where(bad[:, None], 0.0, r)], axis=0))
    rms = _band_rms(both[:rows], both[rows:], hz, lo, hi, filter_order)
    rms[bad] = np.nan
    return rms


def detrend_rows(x: np.ndarray) -> F64:
    """Each row minus its least-squares line (``scipy.signal.detrend(x, axis=1)``, checked in
    the tests), in closed form: scipy's general least-squares path is slow on many rows."""
    n = x.shape[1]
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    mean = x.mean(axis=1, keepdims=True)
    slope = (x @ t)[:, None] / float(t @ t)
    return np.asarray(x - mean - slope * t[None, :], np.float64)


def welch_psd(x: np.ndarray, hz: float, nperseg: int, nfft: int) -> tuple[F64, F64]:
    """One-sided Welch PSD of every row [unit²/Hz]: Hann segments, 50 % overlap, mean removed.

    Same estimate as ``scipy.signal.welch(x, hz, nperseg=nperseg, nfft=nfft,
    detrend="constant", axis=1)`` (checked in the tests), computed with one batched FFT over
    a strided view of the segments: scipy 1.17's ShortTimeFFT path is several times slower on
    thousands of rows.
    """
    x = as_2d("x", x, np.float64)
    n = x.shape[1]
    nperseg = min(nperseg, n)
    step = nperseg - nperseg // 2
    segs = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=1)[:, ::step, :]
    win = signal.get_window("hann", nperseg)
    spec = np.fft.rfft((segs - segs.mean(axis=2, keepdims=True)) * win, n=nfft, axis=2)
    psd = (spec.real**2 + spec.imag**2).mean(axis=1) / (hz * (win * win).sum())
    psd[:, 1 : (nfft + 1) // 2] *= 2.0  # one-sided: fold negative frequencies (not DC/Nyquist)
    freqs = np.fft.rfftfreq(nfft, 1.0 / hz).astype(np.float64, copy=False)
    return freqs, psd.astype(np.float64, copy=False)


@dataclass(frozen=True, slots=True)
class FreqDrop:
    """Per tree: fractional drop of the recent sway frequency below its own baseline
    (positive = lower now), the baseline and recent frequencies [Hz], and baseline count."""

    drop_frac: F64
    baseline_hz: F64
    recent_hz: F64
    n_baseline: I64


def frequency_drop(ts_ms: np.ndarray, freq_hz: np.ndarray, now_ms: int, *,
                   recent_bursts: int = _SW.recent_bursts,
                   baseline_days: float = _SW.baseline_days,
                   baseline_min_bursts: int = _SW.baseline_min_bursts) -> FreqDrop:
    """Compare the newest bursts' frequency with the tree's own earlier bursts.

    Recent = median frequency of the newest ``recent_bursts`` bursts with a trusted
    frequency (one odd burst cannot raise an alarm); baseline = median of the trusted bursts of
    the ``baseline_days`` [day] before them, needing ``baseline_min_bursts``.

    Parameters
    ----------
    ts_ms : (trees, bursts) burst start times [ms UTC], ascending per row, 0 = empty
    freq_hz : (trees, bursts) dominant frequency [Hz], NaN if untrusted
    now_ms : int, event time [ms UTC]; later bursts are ignored

    Returns
    -------
    FreqDrop; grade ``drop_frac`` with ``SwayParams.drop_frac`` (project choice, see params).
    """
    ts = as_2d("ts_ms", ts_ms, np.int64)
    f = as_2d("freq_hz", freq_hz, np.float64)
    same_shape(ts.shape, freq_hz=f)
    valid = (ts > 0) & (ts <= now_ms) & np.isfinite(f)
    from_end = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]  # 1 = newest valid
    recent = valid & (from_end <= recent_bursts)
    n_recent = recent.sum(axis=1)
    oldest_recent = np.where(recent, ts, np.iinfo(np.int64).max).min(axis=1)
    start = oldest_recent - int(baseline_days * MS_PER_DAY)
    base = valid & ~recent & (ts >= start[:, None]) & (ts < oldest_recent[:, None])
    n_base = base.sum(axis=1)
    recent_hz = masked_median(f, recent)
    base_hz = masked_median(f, base)
    with np.errstate(invalid="ignore", divide="ignore"):
        drop = 1.0 - recent_hz / base_hz
    drop[(n_base < baseline_min_bursts) | (n_recent < recent_bursts)] = np.nan
    return FreqDrop(drop, base_hz, recent_hz, n_base.astype(np.int64))


def damping_ratio(x: np.ndarray, hz: float, freq_hz: np.ndarray, *, max_cycles: int = 8,
                  floor: float = 0.01) -> F64:
    """Damping ratio ζ of each row's sway from the decay of its autocorrelation [-].

    The autocorrelation of a lightly damped mode — swaying freely after a gust, or driven by
    turbulent wind (the random-decrement idea) — is a decaying cosine
    ``exp(−ζ·ω·τ)·cos(ω_d·τ)``. Its peaks near whole periods ``k/f`` (k = 1 … ``max_cycles``)
    are found, and a least-squares line through their logarithms gives the decay rate
    ``s = ζ·ω``: the logarithmic decrement ``δ = s/f`` per cycle and
    ``ζ = δ / sqrt(4π² + δ²)``. Sensor noise is white, so it only adds to lag 0, which is not
    used; a peak below ``floor`` × R(0) is lost in noise and stops the fit.

    Parameters
    ----------
    x : (rows, samples) sway [deg], evenly sampled (detrended here)
    hz : float, sampling rate [Hz]
    freq_hz : (rows,) dominant (damped) frequency of each row [Hz], NaN skips the row
    max_cycles : int, most autocorrelation peaks used
    floor : float, smallest normalized peak used

    Returns
    -------
    (rows,) ζ, NaN where fewer than two peaks stand above the floor.

    Notes
    -----
    The burst must hold several cycles: 300 s at 10 Hz for a 0.05 Hz tree (15 cycles). Heavy
    damping (ζ ≳ 0.3) leaves only two or three peaks above the noise, so its estimate is
    coarser. Under turbulent wind one 300-s burst's autocorrelation tail is noisy (its standard
    error at lag k is about sqrt((1 + 2 Σ ρ_j²)/n), Bartlett), which biases ζ low: average the
    estimate over several bursts. Leaves lower both frequency and damping ratio [Leaves].
    """
    a = as_2d("x", x, np.float64)
    rows, n = a.shape
    f = np.asarray(freq_hz, np.float64).ravel()
    if f.size != rows:
        raise ValueError(f"freq_hz has {f.size} entries, x has {rows} rows")
    if not hz > 0:
        raise ValueError(f"hz must be > 0, got {hz}")
    d = detrend_rows(np.nan_to_num(a))
    nfft = int(2 ** np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(d, n=nfft, axis=1)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, n=nfft, axis=1)[:, : n // 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = acf / acf[:, :1]
    period = np.where(np.isfinite(f) & (f > 0), hz / np.where(f > 0, f, 1.0), np.nan)
    lags = np.arange(acf.shape[1])
    peaks = np.full((rows, max_cycles), np.nan)
    ar = np.arange(rows)
    for k in range(1, max_cycles + 1):  # a loop over cycles, each over all rows
        centre = k * period
        win = np.abs(lags[None, :] - centre[:, None]) <= 0.25 * period[:, None]
        masked = np.where(win, acf, -np.inf)
        at = masked.argmax(axis=1)
        peaks[:, k - 1] = np.where(win.any(axis=1), masked[ar, at], np.nan)
    good = np.isfinite(peaks) & (peaks >= floor)
    good &= np.cumprod(good, axis=1).astype(bool)  # stop at the first peak lost in noise
    cyc = np.arange(1, max_cycles + 1, dtype=np.float64)[None, :]
    y = np.log(np.where(good, peaks, 1.0))
    cnt = good.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        km = (cyc * good).sum(axis=1) / cnt
        ym = (y * good).sum(axis=1) / cnt
        slope = (((cyc - km[:, None]) * (y - ym[:, None]) * good).sum(axis=1)
                 / (((cyc - km[:, None]) ** 2) * good).sum(axis=1))
    delta = -slope  # logarithmic decrement per cycle
    zeta = delta / np.sqrt(4 * np.pi**2 + delta**2)
    return np.where((cnt >= 2) & np.isfinite(zeta) & (zeta > 0), zeta, np.nan).astype(np.float64)
