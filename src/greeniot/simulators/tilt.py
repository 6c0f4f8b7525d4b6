"""Trunk-base tilt of every tree, vectorised: baseline lean, sensor drift, wind push, sway, fate.

What a tilt node on a tree reports is modelled as the sum of

- a baseline lean (the tree's own, plus how the sensor was mounted),
- the temperature drift of a cheap MEMS accelerometer (MPU-6050 class: the equivalent of
  degrees over its temperature range, here ±0.005–0.02 °/°C per axis and sensor),
- a quasi-static push downwind growing with the square of the mean wind (wind load), sized so
  that a typical tree's root plate tilts ~0.5–0.9° in a strong storm, the field figure quoted
  in docs/domain.md,
- sway near the tree's natural frequency (≈0.1 Hz for large trees to ≈1 Hz for small ones)
  with an amplitude growing with the square of the instantaneous wind,
- its fate in the scenario: a persistent lean step, or a failure (precursor lean, then fallen),
- sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from greeniot.simulators.fleet import TreeSpec

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

REF_TEMP_C = 20.0
STATIC_NOISE_DEG = 0.01
SAMPLE_NOISE_DEG = 0.02
STEP_RAMP_S = 300.0
FALL_RAMP_S = 30.0


@dataclass(frozen=True, slots=True)
class TreePhysics:
    """Hidden per-tree parameters, arrays of shape (trees,)."""

    site_idx: I64
    base_pitch_deg: F64
    base_roll_deg: F64
    drift_pitch_deg_c: F64
    drift_roll_deg_c: F64
    sensor_az_rad: F64  # azimuth of the sensor's pitch axis, clockwise from north
    sway_hz: F64
    sway_phase: F64
    push_deg_ms2: F64  # quasi-static lean per (mean wind)² [deg/(m/s)²]
    sway_deg_ms2: F64  # sway amplitude per (instantaneous wind)² [deg/(m/s)²]
    temp_offset_c: F64

    @classmethod
    def draw(cls, trees: tuple[TreeSpec, ...], site_idx: I64, rng: np.random.Generator
             ) -> TreePhysics:
        n = len(trees)
        h = np.array([t.height_m for t in trees], dtype=np.float64)
        heritage = np.array([t.heritage for t in trees], dtype=bool)
        size = np.sqrt(h / 12.0) * rng.lognormal(0.0, 0.2, n)
        sign = rng.choice([-1.0, 1.0], (2, n))
        return cls(
            site_idx=np.asarray(site_idx, dtype=np.int64),
            base_pitch_deg=rng.normal(0.0, 0.5, n) + np.where(heritage, 0.8, 0.0),
            base_roll_deg=rng.normal(0.0, 0.5, n),
            drift_pitch_deg_c=sign[0] * rng.uniform(0.005, 0.02, n),
            drift_roll_deg_c=sign[1] * rng.uniform(0.005, 0.02, n),
            sensor_az_rad=rng.uniform(0.0, 2 * np.pi, n),
            sway_hz=np.clip(3.0 / h, 0.1, 1.0) * rng.uniform(0.85, 1.15, n),
            sway_phase=rng.uniform(0.0, 2 * np.pi, n),
            push_deg_ms2=6.5e-4 * size,
            sway_deg_ms2=2.5e-4 * size,
            temp_offset_c=rng.normal(0.0, 0.5, n),
        )


@dataclass(frozen=True, slots=True)
class TreeFate:
    """What the scenario does to each tree; NaN onset means never. Arrays of shape (trees,)."""

    step_at_s: F64
    step_pitch_deg: F64
    step_roll_deg: F64
    fail_at_s: F64
    precursor_s: F64
    precursor_pitch_deg: F64  # precursor lean reached just before failing
    precursor_roll_deg: F64
    fallen_pitch_deg: F64
    fallen_roll_deg: F64

    @classmethod
    def none(cls, n: int) -> TreeFate:
        def nan() -> F64:
            return np.full(n, np.nan)

        def zero() -> F64:
            return np.zeros(n)

        return cls(nan(), zero(), zero(), nan(), zero(), zero(), zero(), zero(), zero())


def project(mag_deg: F64, toward_rad: F64, sensor_az_rad: F64) -> tuple[F64, F64]:
    """A lean of ``mag_deg`` toward azimuth ``toward_rad`` seen on the sensor's (pitch, roll)."""
    d = toward_rad - sensor_az_rad
    return mag_deg * np.cos(d), mag_deg * np.sin(d)


def _ramp(x: F64) -> F64:
    return np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0)


def fate_offset(fate: TreeFate, idx: I64, t_s: F64) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Lean added by the scenario at ``t_s`` for trees ``idx`` [deg], and whether each is down."""
    step = _ramp((t_s - fate.step_at_s[idx]) / STEP_RAMP_S)
    pre = _ramp((t_s - (fate.fail_at_s[idx] - fate.precursor_s[idx]))
                / np.maximum(fate.precursor_s[idx], 1.0))
    fall = _ramp((t_s - fate.fail_at_s[idx]) / FALL_RAMP_S)
    pitch = (step * fate.step_pitch_deg[idx]
             + (1 - fall) * pre * fate.precursor_pitch_deg[idx]
             + fall * fate.fallen_pitch_deg[idx])
    roll = (step * fate.step_roll_deg[idx]
            + (1 - fall) * pre * fate.precursor_roll_deg[idx]
            + fall * fate.fallen_roll_deg[idx])
    return pitch, roll, fall > 0.0


def static_tilt(phys: TreePhysics, fate: TreeFate, idx: I64, t_s: F64, *, wind_mean_ms: F64,
                wind_to_rad: F64, air_temp_c: F64) -> tuple[F64, F64, F64]:
    """Noise-free static (pitch, roll) [deg] and the sway amplitude scale [deg] of trees ``idx``.

    A fallen tree no longer feels the wind: its push and sway are zero.
    """
    fp, fr, down = fate_offset(fate, idx, t_s)
    dtemp = air_temp_c + phys.temp_offset_c[idx] - REF_TEMP_C
    push = np.where(down, 0.0, phys.push_deg_ms2[idx] * wind_mean_ms**2)
    pp, pr = project(push, wind_to_rad, phys.sensor_az_rad[idx])
    pitch = phys.base_pitch_deg[idx] + phys.drift_pitch_deg_c[idx] * dtemp + pp + fp
    roll = phys.base_roll_deg[idx] + phys.drift_roll_deg_c[idx] * dtemp + pr + fr
    sway = np.where(down, 0.0, phys.sway_deg_ms2[idx])
    return pitch, roll, sway


def sway(phys: TreePhysics, i: int, tau_s: F64, *, wind_ms: F64, wind_to_rad: float,
         scale_deg_ms2: float) -> tuple[F64, F64]:
    """Sway of tree ``i`` at sample times ``tau_s`` [s] as (pitch, roll) [deg].

    Along-wind motion at the natural frequency, a weaker cross-wind motion slightly off it;
    amplitude ∝ instantaneous wind² (``wind_ms`` at each sample).
    """
    amp = scale_deg_ms2 * wind_ms**2
    w = 2 * np.pi * phys.sway_hz[i]
    along = amp * np.sin(w * tau_s + phys.sway_phase[i])
    cross = 0.35 * amp * np.sin(1.07 * w * tau_s + 2 * phys.sway_phase[i])
    d = wind_to_rad - phys.sensor_az_rad[i]
    return along * np.cos(d) - cross * np.sin(d), along * np.sin(d) + cross * np.cos(d)
