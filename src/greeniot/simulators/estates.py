"""Randomized estates for tree-risk benchmarks: trees, sensors, faults and fates from a seed.

An estate is drawn from a seed: sites (some with a weather station, some without), trees of a
species mix and sizes (heritage trees among them), each with a tilt node whose readings are
its calm position, the temperature drift of a cheap MEMS sensor, the elastic response to the
wind load (compliance × U², slightly non-linear per tree), averaged sway jitter and noise —
and what happens to it by chance: a yield in the storm (a lean that grows over minutes to
hours and stays), a failure (a yield, then the tree goes down), or a moved sensor (a jump on
both axes with a temperature jump: a device fault, not lean). Sway bursts are sent when the
sway exceeds the firmware's trigger, so sites without a station have a wind stand-in.

The ground truth (:class:`TreeTruth`) says, per tree, the true persistent lean over time, so a
scorer can say when each tree became detectable. Nothing here is read by the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from greeniot.simulators.fleet import SPECIES
from greeniot.simulators.seasons import TreeSeasons, sway_response
from greeniot.simulators.storms import HOUR_S, StormTrack

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]
DAY_S = 86_400.0

#: Relative wind-firmness by species (1 = typical): shallow-rooted fast growers lower.
#: Illustrative spread of a subtropical species mix, not measured values.
FIRMNESS: dict[str, float] = {
    "Ficus microcarpa": 1.2, "Cinnamomum camphora": 1.1, "Delonix regia": 0.8,
    "Bauhinia blakeana": 0.9, "Aleurites moluccana": 0.8, "Lagerstroemia speciosa": 1.0,
    "Melaleuca cajuputi": 1.0, "Spathodea campanulata": 0.7, "Khaya senegalensis": 1.0,
    "Bombax ceiba": 0.9,
}


@dataclass(frozen=True, slots=True)
class EstateTrees:
    """Per tree (arrays of shape (trees,)): identity, what the registry knows, hidden physics
    and fate. Times in seconds from the run's start; NaN = never."""

    site: I64
    tree: tuple[str, ...]
    device: tuple[str, ...]
    species: tuple[str, ...]
    height_m: F64
    heritage: Bool
    base_pitch_deg: F64
    base_roll_deg: F64
    drift_pitch_deg_c: F64
    drift_roll_deg_c: F64
    temp_offset_c: F64
    sensor_az_rad: F64
    compliance: F64  # elastic tilt per (mean wind)² [deg/(m/s)²]
    nonlinear: F64  # relative change of compliance per (40 m/s)² of load [-]
    sway_hz: F64
    sway_rms_per_load: F64  # burst sway RMS per (mean wind)² [deg/(m/s)²]
    noise_deg: F64
    yield_at_s: F64
    yield_s: F64  # duration of the yield
    yield_deg: F64  # lean reached (persistent)
    yield_to_rad: F64
    fail_at_s: F64
    remount_at_s: F64
    remount_pitch_deg: F64
    remount_roll_deg: F64
    remount_temp_c: F64

    def __len__(self) -> int:
        return int(self.site.size)

    def true_lean(self, t_s: F64) -> tuple[F64, Bool]:
        """(trees, times) true persistent lean [deg] and whether each tree is down."""
        t = np.asarray(t_s, np.float64)[None, :]
        frac = np.clip(np.nan_to_num((t - self.yield_at_s[:, None]) / self.yield_s[:, None],
                                     nan=0.0), 0.0, 1.0)
        lean = frac * np.nan_to_num(self.yield_deg)[:, None]
        down = np.nan_to_num(t - self.fail_at_s[:, None], nan=-1.0) >= 0
        return np.where(down, 60.0, lean), down


@dataclass(frozen=True, slots=True)
class Estate:
    sites: tuple[str, ...]
    has_station: Bool
    trees: EstateTrees
    storm: StormTrack
    span_s: float
    start_ms: int
    temp_mean_c: F64
    temp_amp_c: F64
    #: leaf seasons of the trees (deciduous frequency and damping through the year); None:
    #: every tree sways at its one ``sway_hz`` as a sine
    seasons: TreeSeasons | None = None
    #: stiffness loss (anchorage): from ``soften_at_s`` [s] the tree's stiffness is
    #: ``1 − soften_frac`` of what it was (NaN: never); None: no tree softens
    soften_at_s: F64 | None = None
    soften_frac: F64 | None = None
    #: bursts as a damped mode under turbulent wind (:func:`seasons.sway_response`) instead
    #: of a sine at the seasonal frequency. Off in the benchmark: its sites without a station
    #: read the wind from burst RMS, and the waveform alone flipped a borderline calm lean
    #: (0.2525° against 0.25°) on one seed — a stand-in sensitivity, not sway physics.
    damped_sway: bool = False


def draw_estate(seed: int, *, start_ms: int, days: float = 6.0, n_sites: int = 3,
                trees_per_site: tuple[int, int] = (30, 60), station_share: float = 0.6,
                p_yield: float = 0.06, p_fail: float = 0.01, p_remount: float = 0.02,
                storm_day: float = 3.0,
                storm_peak_ms: tuple[float, float] = (20.0, 40.0)) -> Estate:
    """An estate and a storm from ``seed``.

    The storm's onset falls on ``storm_day`` ± 0.3 days (trees need a calm day first to learn
    their baselines); yields happen while the wind is at least half its peak, moved sensors
    on calm days before or after the storm.
    """
    rng = np.random.default_rng(seed)
    sites = tuple(f"estate-{chr(97 + i)}" for i in range(n_sites))
    has_station = rng.random(n_sites) < station_share
    counts = rng.integers(trees_per_site[0], trees_per_site[1] + 1, n_sites)
    site = np.repeat(np.arange(n_sites), counts).astype(np.int64)
    n = site.size
    species = tuple(str(s) for s in rng.choice(SPECIES, n))
    height = rng.uniform(5.0, 25.0, n)
    heritage = rng.random(n) < 0.08
    size = np.sqrt(height / 12.0) * rng.lognormal(0.0, 0.25, n)
    firm = np.array([FIRMNESS[s] for s in species])
    compliance = 6.5e-4 * size / firm
    span_s = days * DAY_S
    storm = StormTrack.draw(rng, n_sites, onset_s=(storm_day + rng.uniform(-0.3, 0.3)) * DAY_S,
                            peak_range_ms=storm_peak_ms)

    # fates: a yield while the wind is strong, a few failures, some moved sensors
    yielding = rng.random(n) < p_yield
    failing = rng.random(n) < p_fail
    yielding |= failing
    strong_from = storm.onset_s + 0.5 * storm.rise_s
    strong_to = storm.onset_s + storm.rise_s + storm.plateau_s + 0.3 * storm.decay_s
    y_at = np.where(yielding, rng.uniform(strong_from, strong_to, n), np.nan)
    y_s = np.where(yielding, np.exp(rng.uniform(np.log(300.0), np.log(3 * HOUR_S), n)), np.nan)
    y_deg = np.where(yielding, rng.uniform(0.3, 3.0, n), np.nan)
    y_deg = np.where(failing, rng.uniform(2.0, 3.0, n), y_deg)
    y_to = storm.wind_to_rad(np.nan_to_num(y_at)) + np.deg2rad(rng.normal(0.0, 20.0, n))
    fail_at = np.where(failing, y_at + y_s + rng.uniform(0.0, 1.0, n) * HOUR_S, np.nan)
    remount = rng.random(n) < p_remount
    calm_days = np.where(rng.random(n) < 0.5, rng.uniform(1.5, storm.onset_s / DAY_S - 0.3, n),
                         rng.uniform(storm.end_s / DAY_S + 0.5, days - 0.2, n))
    r_at = np.where(remount & ~yielding, calm_days * DAY_S, np.nan)
    sign = rng.choice([-1.0, 1.0], (2, n))
    trees = EstateTrees(
        site=site,
        tree=tuple(f"t{i:04d}" for i in range(n)),
        device=tuple(f"tilt-{i:04d}" for i in range(n)),
        species=species, height_m=height, heritage=heritage,
        base_pitch_deg=rng.normal(0.0, 1.0, n), base_roll_deg=rng.normal(0.0, 1.0, n),
        drift_pitch_deg_c=sign[0] * rng.uniform(0.005, 0.02, n),
        drift_roll_deg_c=sign[1] * rng.uniform(0.005, 0.02, n),
        temp_offset_c=rng.normal(0.0, 1.0, n),
        sensor_az_rad=rng.uniform(0.0, 2 * np.pi, n),
        compliance=compliance, nonlinear=rng.uniform(-0.15, 0.15, n),
        sway_hz=np.clip(3.0 / height, 0.1, 1.0) * rng.uniform(0.85, 1.15, n),
        sway_rms_per_load=0.35 * compliance * rng.uniform(0.8, 1.2, n),
        noise_deg=rng.uniform(0.01, 0.03, n),
        yield_at_s=y_at, yield_s=y_s, yield_deg=y_deg, yield_to_rad=y_to, fail_at_s=fail_at,
        remount_at_s=r_at,
        remount_pitch_deg=sign[0] * rng.uniform(0.4, 2.0, n),
        remount_roll_deg=sign[1] * rng.uniform(0.4, 2.0, n),
        remount_temp_c=rng.choice([-1.0, 1.0], n) * rng.uniform(3.0, 8.0, n),
    )
    # seasons from their own stream, so the draws above stay what they were for each seed
    seasons = TreeSeasons.draw(np.random.default_rng([seed, 1]), species, site)
    return Estate(sites, has_station, trees, storm, span_s, start_ms,
                  temp_mean_c=rng.uniform(18.0, 30.0, n_sites),
                  temp_amp_c=rng.uniform(2.0, 6.0, n_sites), seasons=seasons)


def _project(mag: F64, toward: F64, az: F64) -> tuple[F64, F64]:
    d = toward - az
    return mag * np.cos(d), mag * np.sin(d)


def air_temp_c(est: Estate, t_s: F64, site: I64) -> F64:
    damp = 1.0 - 0.7 * est.storm.envelope(t_s)
    phase = 2 * np.pi * (t_s / DAY_S - 9.0 / 24.0)
    return np.asarray(est.temp_mean_c[site] + est.temp_amp_c[site] * damp * np.sin(phase))


def tilt_readings(est: Estate, t_s: F64, rng: np.random.Generator
                  ) -> tuple[F64, F64, F64]:
    """(trees, times) pitch, roll [deg] and sensor temperature [°C] of 5-min averaged
    readings taken at ``t_s`` [s] (the same times for every tree, jitter aside)."""
    tr = est.trees
    t = np.asarray(t_s, np.float64)[None, :]
    s = tr.site[:, None]
    u = est.storm.wind_mean_ms(np.broadcast_to(t, (len(tr), t.shape[1])), np.broadcast_to(
        s, (len(tr), t.shape[1])))
    # the tree answers the wind of its own 5-min reading, which scatters around the station's
    # 10-min mean (±5 % of the speed, the same for every tree of a site at one time)
    site_gust = 1.0 + 0.05 * rng.standard_normal((len(est.sites), t.shape[1]))
    load = (u * site_gust[tr.site]) ** 2
    down = np.nan_to_num(t - tr.fail_at_s[:, None], nan=-1.0) >= 0
    elastic = tr.compliance[:, None] * load * (1.0 + tr.nonlinear[:, None] * load / 1600.0)
    elastic = np.where(down, 0.0, elastic)
    ep, er = _project(elastic, est.storm.wind_to_rad(t), tr.sensor_az_rad[:, None])
    lean, _ = tr.true_lean(t_s)
    lp, lr = _project(lean, tr.yield_to_rad[:, None], tr.sensor_az_rad[:, None])
    lp, lr = np.nan_to_num(lp), np.nan_to_num(lr)
    moved = np.nan_to_num(t - tr.remount_at_s[:, None], nan=-1.0) >= 0
    temp = (air_temp_c(est, np.broadcast_to(t, load.shape), np.broadcast_to(s, load.shape))
            + tr.temp_offset_c[:, None] + np.where(moved, tr.remount_temp_c[:, None], 0.0))
    dt = temp - 20.0
    jitter = tr.noise_deg[:, None] + np.where(down, 0.0,
                                              0.1 * tr.sway_rms_per_load[:, None] * load)
    noise = rng.standard_normal((2, *load.shape)) * jitter
    pitch = (tr.base_pitch_deg[:, None] + tr.drift_pitch_deg_c[:, None] * dt + ep + lp
             + np.where(moved, tr.remount_pitch_deg[:, None], 0.0) + noise[0])
    roll = (tr.base_roll_deg[:, None] + tr.drift_roll_deg_c[:, None] * dt + er + lr
            + np.where(moved, tr.remount_roll_deg[:, None], 0.0) + noise[1])
    return (np.clip(pitch, -89.0, 89.0).round(3), np.clip(roll, -89.0, 89.0).round(3),
            temp.round(2))


def sway_burst(est: Estate, i: int, t_s: float, pitch_deg: float, roll_deg: float,
               rng: np.random.Generator, *, burst_s: float = 60.0, hz: float = 10.0
               ) -> tuple[list[float], list[float]] | None:
    """A burst of tree ``i`` at ``t_s`` if its sway exceeds the firmware trigger, else None.

    The trigger (sway RMS ≥ 0.02°, firmware ``burst_trigger_deg``) is judged on the node from
    a short look at the accelerometer; here from the modelled sway amplitude.
    """
    tr = est.trees
    u = float(est.storm.wind_mean_ms(np.array([t_s]), np.array([tr.site[i]]))[0])
    rms = float(tr.sway_rms_per_load[i]) * u * u
    down = np.isfinite(tr.fail_at_s[i]) and t_s >= tr.fail_at_s[i]
    if down or rms < 0.02:
        return None
    n = int(burst_s * hz)
    tau = np.arange(n) / hz
    amp = rms * np.sqrt(2.0)
    phase = rng.uniform(0, 2 * np.pi)
    env = 1.0 + 0.3 * np.sin(2 * np.pi * tau / 20.0 + phase)
    f = float(tr.sway_hz[i])
    if est.seasons is not None:  # this season's natural frequency (and stiffness)
        loss = 0.0
        if est.soften_at_s is not None and est.soften_frac is not None and t_s >= np.nan_to_num(
                est.soften_at_s[i], nan=np.inf):
            loss = float(est.soften_frac[i])
        f, zeta = est.seasons.natural(i, f, est.start_ms + t_s * 1000.0, loss)
    if est.seasons is not None and est.damped_sway:
        # a damped mode under turbulent wind; its own stream (per estate, tree and time), so
        # the caller's draws stay as they were
        own = np.random.default_rng([est.start_ms % 2**32, i, int(t_s * 1000) % 2**32])
        along = amp * env * sway_response(own, f, zeta, n, hz)
    else:
        along = amp * env * np.sin(2 * np.pi * f * tau + phase)
    d = float(est.storm.wind_to_rad(np.array([t_s]))[0] - tr.sensor_az_rad[i])
    noise = rng.normal(0.0, float(tr.noise_deg[i]), (2, n))
    p = pitch_deg + along * np.cos(d) + noise[0]
    r = roll_deg + along * np.sin(d) + noise[1]
    return (np.clip(p, -89, 89).round(3).tolist(), np.clip(r, -89, 89).round(3).tolist())
