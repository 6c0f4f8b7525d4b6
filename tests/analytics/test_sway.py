"""Sway RMS and dominant frequency from bursts; frequency drop against the tree's past."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from greeniot.analytics.params import SWAY_PARAMS
from greeniot.analytics.sway.detect import (
    detrend_rows,
    frequency_drop,
    sway_features,
    welch_psd,
)
from tests.analytics.analytics_synth import DAY, T0

P = SWAY_PARAMS["default"]


def bursts(freqs: list[float], amp: float = 0.1, noise: float = 0.05, hz: float = 10.0,
           seconds: float = 120.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * hz)) / hz
    f = np.asarray(freqs)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (len(freqs), 1))
    shape = (len(freqs), t.size)
    pitch = 0.3 + amp * np.sin(2 * np.pi * f * t + phase) + rng.normal(0, noise, shape)
    roll = -0.2 + 0.5 * amp * np.sin(2 * np.pi * f * t) + rng.normal(0, noise, shape)
    return pitch, roll


def test_recovers_a_04_hz_sway_in_noise() -> None:
    p, r = bursts([0.4])
    s = sway_features(p, r, 10.0)
    assert s.freq_hz[0] == pytest.approx(0.4, abs=0.05)


def test_vectorized_over_trees_of_different_frequencies() -> None:
    freqs = [0.08, 0.15, 0.4, 0.9, 2.5]
    p, r = bursts(freqs, seed=1)
    s = sway_features(p, r, 10.0)
    np.testing.assert_allclose(s.freq_hz, freqs, atol=0.02)


def test_rms_of_a_clean_sinusoid() -> None:
    p, r = bursts([0.5], amp=0.2, noise=0.0)
    s = sway_features(p, r, 10.0)
    expected = np.sqrt(0.2**2 / 2 + 0.1**2 / 2)  # both axes, static offsets removed
    assert s.rms_deg[0] == pytest.approx(expected, rel=0.03)


def test_noise_alone_has_no_frequency() -> None:
    rng = np.random.default_rng(7)
    p = rng.normal(0, 0.05, (3, 1200))
    s = sway_features(p, rng.normal(0, 0.05, (3, 1200)), 10.0)
    assert np.isnan(s.freq_hz).all()
    assert (s.rms_deg > 0).all()


def test_welch_matches_scipy() -> None:
    x = np.random.default_rng(2).normal(size=(4, 1001))
    f1, p1 = signal.welch(x, fs=10, nperseg=500, nfft=1024, detrend="constant", axis=1)
    f2, p2 = welch_psd(x, 10, 500, 1024)
    np.testing.assert_allclose(f1, f2)
    np.testing.assert_allclose(p1, p2, rtol=1e-10, atol=1e-15)


def test_detrend_matches_scipy() -> None:
    x = np.random.default_rng(3).normal(size=(5, 777)) + np.linspace(0, 4, 777)
    np.testing.assert_allclose(detrend_rows(x), signal.detrend(x, axis=1), atol=1e-10)


def test_bad_bursts_name_the_argument() -> None:
    with pytest.raises(ValueError, match="pitch_deg has 10 samples"):
        sway_features(np.zeros((1, 10)), np.zeros((1, 10)), 10.0)
    with pytest.raises(ValueError, match="roll_deg has shape"):
        sway_features(np.zeros((1, 100)), np.zeros((2, 100)), 10.0)
    with pytest.raises(ValueError, match=r"hz=0\.1 is too low"):
        sway_features(np.zeros((1, 100)), np.zeros((1, 100)), 0.1)


def test_frequency_drop_against_own_baseline() -> None:
    ts = np.tile(T0 + np.arange(12) * DAY // 2, (3, 1))
    f = np.full(ts.shape, 0.40)
    f[0, -3:] = 0.30  # 25 % lower in the newest three bursts
    f[1, -1] = 0.20  # one odd burst
    f[2, :-3] = np.nan  # no trusted baseline
    d = frequency_drop(ts, f, int(ts.max()))
    assert d.drop_frac[0] == pytest.approx(0.25)
    assert d.drop_frac[1] == pytest.approx(0.0)  # median of the newest three ignores it
    assert np.isnan(d.drop_frac[2])
    assert d.baseline_hz[0] == pytest.approx(0.40)


def test_firmware_chunks_are_stitched_into_one_long_burst() -> None:
    """The firmware sends a 300-s, 10-Hz burst as 15 readings of 200 samples, chunk k at
    ``t0 + int(200·k·1000/hz)`` (firmware/micropython/app/tilt.py): the stage analyses them
    as one burst, so a 0.08 Hz tree's frequency is resolved (a 20-s chunk holds 1.6 cycles);
    the site's wind stand-in still gets every chunk's RMS at once (``SwayStage.add``)."""
    from greeniot.analytics.engine import AnalyticsEngine
    from greeniot.estate import DeviceBinding, EstateContext
    from greeniot.protocol.messages import TiltBurst, TiltReading

    eng = AnalyticsEngine(EstateContext(devices=(DeviceBinding("s", "tilt-1", "tilt"),)))
    p, r = bursts([0.08], amp=0.2, noise=0.02, seconds=300.0, seed=4)
    for k in range(15):
        sl = slice(200 * k, 200 * (k + 1))
        eng.ingest("s", "tilt-1", TiltReading(
            seq=k + 1, ts_ms=T0 + int(200 * k * 1000 / 10.0), pitch_deg=float(p[0, sl].mean()),
            roll_deg=float(r[0, sl].mean()),
            burst=TiltBurst(hz=10.0, pitch_deg=p[0, sl].tolist(), roll_deg=r[0, sl].tolist())))
    eng.tick(T0 + 60_000)  # mid-burst: the stand-in has the chunks, the features wait
    row = eng.sway.index.get("s", "tilt-1")
    assert row is not None and eng.sway.windows.newest_ts_ms[row] == 0
    eng.tick(T0 + 301_000)
    f = eng.sway.windows.chronological("freq_hz", np.array([row]))[0]
    got = f[np.isfinite(f)]
    assert got.size == 1 and got[0] == pytest.approx(0.08, abs=0.005)  # one burst, not 15
    # a burst that does not continue it (a later reading) closes it and starts another
    eng.ingest("s", "tilt-1", TiltReading(
        seq=20, ts_ms=T0 + 600_000, pitch_deg=0.3, roll_deg=-0.2,
        burst=TiltBurst(hz=10.0, pitch_deg=p[0, :600].tolist(), roll_deg=r[0, :600].tolist())))
    eng.tick(T0 + 700_000)
    assert np.isfinite(eng.sway.windows.chronological("freq_hz", np.array([row]))[0]).sum() == 2
