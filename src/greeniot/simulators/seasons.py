"""Leaf seasons of simulated trees and their wind-driven sway: frequency and damping by foliage.

A deciduous tree loses its leaves' mass and drag in autumn: its natural frequency rises and its
damping ratio falls, and the reverse at leaf-out (docs/tree-risk.md, "Seasonal sway
baselines": a factor of 1.6 ± 0.2 in frequency and 1.5 ± 0.3 in damping for Norway maple;
here a milder, randomized 1.05–1.35 and 1.2–1.8). Each tree's leaf fall and leaf-out
start on its site's dates (the backend's default calendar ± up to 12 days per site, a few days
per tree) and take 30–50 days; evergreen trees keep one frequency. Sway is the response of a
damped oscillator (natural frequency ``f``, damping ratio ``ζ``) to turbulent (white) forcing,
so its autocorrelation decays as ``exp(−ζ·2πf·τ)`` — what the backend's damping estimate
measures. A stiffness loss (anchorage) lowers the frequency by ``sqrt(1 − loss)`` (``f ∝
sqrt(k/m)``).

Nothing here is read by the backend; the species' habit comes from the same genus table the
backend uses by default (a registry would say it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from greeniot.leaf_habits import leaf_habit

F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]
DAY_MS = 86_400_000
#: Calendar the site dates scatter around (day of year, northern hemisphere): the backend's
#: default windows (SwayParams.season_windows).
LEAF_OUT_DOY = 91.0
LEAF_FALL_DOY = 274.0


@dataclass(frozen=True, slots=True)
class TreeSeasons:
    """Per tree (arrays of shape (trees,)): habit and how leaves change its sway."""

    deciduous: Bool
    f_ratio_off: F64  # leaf-off / leaf-on natural frequency [-] (1 for evergreen)
    zeta_on: F64  # leaf-on damping ratio [-]
    zeta_ratio: F64  # leaf-on / leaf-off damping ratio [-] (1 for evergreen)
    fall_doy: F64  # leaf fall starts [day of year]
    fall_days: F64
    out_doy: F64  # leaf-out starts [day of year]
    out_days: F64
    southern: Bool

    @classmethod
    def draw(cls, rng: np.random.Generator, species: tuple[str, ...], site: NDArray[np.int64],
             *, southern: Bool | None = None) -> TreeSeasons:
        n = len(species)
        n_sites = int(site.max()) + 1 if n else 0
        dec = np.array([leaf_habit(s) == "deciduous" for s in species], bool)
        site_fall = rng.uniform(-12.0, 12.0, n_sites)
        site_out = rng.uniform(-12.0, 12.0, n_sites)
        return cls(
            deciduous=dec,
            f_ratio_off=np.where(dec, rng.uniform(1.05, 1.35, n), 1.0),
            zeta_on=rng.uniform(0.06, 0.2, n),
            zeta_ratio=np.where(dec, rng.uniform(1.2, 1.8, n), 1.0),
            fall_doy=LEAF_FALL_DOY + site_fall[site] + rng.normal(0.0, 3.0, n),
            fall_days=rng.uniform(30.0, 50.0, n),
            out_doy=LEAF_OUT_DOY + site_out[site] + rng.normal(0.0, 3.0, n),
            out_days=rng.uniform(25.0, 40.0, n),
            southern=np.zeros(n, bool) if southern is None else np.asarray(southern, bool),
        )

    def leaf_fraction(self, i: int, t_ms: float) -> float:
        """Share of the crown's leaves on tree ``i`` at ``t_ms`` [ms UTC]: 1 in leaf, 0 bare."""
        if not self.deciduous[i]:
            return 1.0
        t = np.datetime64(int(t_ms - (182 * DAY_MS if self.southern[i] else 0)), "ms")
        doy = float((t - t.astype("datetime64[Y]")) / np.timedelta64(1, "D")) + 1.0
        out = float(np.clip((doy - self.out_doy[i]) / self.out_days[i], 0.0, 1.0))
        fall = float(np.clip((doy - self.fall_doy[i]) / self.fall_days[i], 0.0, 1.0))
        return out * (1.0 - fall)

    def natural(self, i: int, f_on_hz: float, t_ms: float, stiffness_loss: float = 0.0
                ) -> tuple[float, float]:
        """Natural frequency [Hz] and damping ratio [-] of tree ``i`` at ``t_ms``."""
        leaf = self.leaf_fraction(i, t_ms)
        f = f_on_hz * float(self.f_ratio_off[i]) ** (1.0 - leaf)
        f *= float(np.sqrt(max(0.0, 1.0 - stiffness_loss)))
        zeta = float(self.zeta_on[i]) / float(self.zeta_ratio[i]) ** (1.0 - leaf)
        return f, zeta


def sway_response(rng: np.random.Generator, f_hz: float, zeta: float, n: int, hz: float,
                  band_hz: tuple[float, float] = (0.05, 3.0)) -> F64:
    """``n`` samples at ``hz`` of a damped oscillator driven by white noise, scaled so that
    its RMS within the sway band ``band_hz`` (docs/domain.md: 0.05–3 Hz) is 1/√2 — that of a
    unit sine, so a sway amplitude (and the in-band RMS a node's burst is judged by) means
    what it did for a sine.

    Discretized with the impulse-invariant poles ``exp((−ζω ± iω_d)/hz)``; the first
    five decay times are discarded so the burst starts in the steady state.
    """
    w = 2 * np.pi * f_hz
    r = np.exp(-zeta * w / hz)
    a = [1.0, -2.0 * r * np.cos(w * np.sqrt(1.0 - zeta**2) / hz), r * r]
    warm = int(min(20 * hz / f_hz, 5.0 * hz / (zeta * w)))
    x = signal.lfilter([1.0], a, rng.standard_normal(n + warm))[warm:]
    x = signal.detrend(x)
    sos = signal.butter(4, [band_hz[0], min(band_hz[1], 0.45 * hz)], btype="bandpass", fs=hz,
                        output="sos")
    inband = signal.sosfiltfilt(sos, x)
    return np.asarray(x * (np.sqrt(0.5) / max(float(np.sqrt(np.mean(inband**2))), 1e-12)))
