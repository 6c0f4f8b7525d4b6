"""Randomized storms for tree-risk benchmarks: a track, a strength, gusts, per site.

A storm is drawn from a seed: onset time, rise, plateau and decay of the 10-min mean wind
[m/s], a peak between a strong gale and a typhoon, a track that passes each site at its own
distance (weaker far from the track), a wind direction that turns as the storm passes, and
slow gust modulation of the 10-min means. Everything is a deterministic function of time, so
the station, the trees' load and the sway stand-in see the same wind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class StormTrack:
    """One storm over ``n_sites`` sites. Times in seconds from the run's start."""

    onset_s: float
    rise_s: float
    plateau_s: float
    decay_s: float
    peak_ms: float  # 10-min mean wind at the track [m/s]
    site_scale: F64  # (sites,) fraction of the peak felt at each site
    dir_from_rad: float  # direction the wind blows towards at onset
    dir_turn_rad: float  # how far it turns over the storm
    gust_period_s: F64  # (sites, 3) periods of the slow modulation of the 10-min mean
    gust_phase: F64
    calm_ms: float = 3.0
    breeze_ms: float = 0.0  # an afternoon sea breeze on top of the calm wind [m/s]

    @classmethod
    def draw(cls, rng: np.random.Generator, n_sites: int, *, onset_s: float,
             peak_range_ms: tuple[float, float] = (20.0, 40.0)) -> StormTrack:
        return cls(
            onset_s=onset_s,
            rise_s=rng.uniform(2.0, 6.0) * HOUR_S,
            plateau_s=rng.uniform(1.0, 6.0) * HOUR_S,
            decay_s=rng.uniform(2.0, 6.0) * HOUR_S,
            peak_ms=rng.uniform(*peak_range_ms),
            site_scale=rng.uniform(0.7, 1.0, n_sites),
            dir_from_rad=rng.uniform(0.0, 2 * np.pi),
            dir_turn_rad=rng.uniform(-np.pi / 2, np.pi / 2),
            # a 10-min mean varies only on longer scales: periods of 30 min to 2 h
            gust_period_s=rng.uniform(1800.0, 7200.0, (n_sites, 3)),
            gust_phase=rng.uniform(0.0, 2 * np.pi, (n_sites, 3)),
            calm_ms=rng.uniform(1.5, 4.0),
            breeze_ms=rng.uniform(0.0, 6.0),
        )

    @property
    def end_s(self) -> float:
        return self.onset_s + self.rise_s + self.plateau_s + self.decay_s

    def envelope(self, t_s: F64) -> F64:
        """0 → 1 → 0 shape of the storm over time [-]."""
        t = np.asarray(t_s, np.float64) - self.onset_s
        up = np.clip(t / self.rise_s, 0.0, 1.0)
        down = np.clip((t - self.rise_s - self.plateau_s) / self.decay_s, 0.0, 1.0)
        return np.asarray(np.sin(0.5 * np.pi * up) ** 2 * np.cos(0.5 * np.pi * down) ** 2,
                          np.float64)

    def wind_mean_ms(self, t_s: F64, site: NDArray[np.int64]) -> F64:
        """10-min mean wind at each (time, site) [m/s], with slow gust modulation (±10 %)."""
        t = np.asarray(t_s, np.float64)
        s = np.asarray(site, np.int64)
        env = self.envelope(t)
        mod = (np.sin(2 * np.pi * t[..., None] / self.gust_period_s[s] + self.gust_phase[s])
               .sum(axis=-1) / 3.0)
        storm = self.peak_ms * self.site_scale[s] * env * (1.0 + 0.17 * mod)
        breeze = self.breeze_ms * np.maximum(np.sin(2 * np.pi * (t / 86_400.0 - 0.3)), 0.0)
        return np.asarray(np.maximum(self.calm_ms * (1.0 + 0.3 * mod) + breeze, storm))

    def wind_to_rad(self, t_s: F64) -> F64:
        frac = np.clip((np.asarray(t_s, np.float64) - self.onset_s)
                       / (self.end_s - self.onset_s), 0.0, 1.0)
        return np.asarray(self.dir_from_rad + self.dir_turn_rad * frac)

    def in_storm(self, t_s: F64, margin_s: float = 0.0) -> NDArray[np.bool_]:
        t = np.asarray(t_s, np.float64)
        return np.asarray((t >= self.onset_s - margin_s) & (t <= self.end_s + margin_s))
