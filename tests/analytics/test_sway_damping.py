"""Sway damping ratio on damped synthetic oscillations with known frequency and ζ."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.sway.detect import damping_ratio

HZ = 10.0
N = 3000  # 300 s at 10 Hz: a burst long enough for a 0.05 Hz tree


def free_decay(f_hz: float, zeta: float, noise_deg: float, seed: int) -> tuple[np.ndarray, float]:
    """A tree released by a gust: A·exp(−ζωt)·cos(ω_d t) plus white sensor noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(N) / HZ
    w = 2 * np.pi * f_hz
    wd = w * np.sqrt(1 - zeta**2)
    x = 0.5 * np.exp(-zeta * w * t) * np.cos(wd * t) + rng.normal(0, noise_deg, N)
    return x, wd / (2 * np.pi)


@pytest.mark.parametrize("f_hz", [0.05, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("zeta", [0.05, 0.1, 0.3])
def test_damping_of_a_free_decay_with_noise(f_hz: float, zeta: float) -> None:
    x, fd = free_decay(f_hz, zeta, 0.005, seed=int(100 * f_hz + 1000 * zeta))
    got = damping_ratio(x[None, :], HZ, np.array([fd]))[0]
    assert got == pytest.approx(zeta, rel=0.2, abs=0.01)


def test_damping_checks_inputs_and_gives_nan_without_a_frequency() -> None:
    x, _fd = free_decay(0.2, 0.1, 0.005, seed=1)
    assert np.isnan(damping_ratio(x[None, :], HZ, np.array([np.nan]))[0])
    with pytest.raises(ValueError, match="freq_hz"):
        damping_ratio(x[None, :], HZ, np.array([0.2, 0.3]))
