"""Soil probes that drift away from their zone's other probes, vectorized (pure).

A capacitive probe can drift: its electrodes corrode or lose contact with the soil, and its
reading walks by a share of a percent of water content a day while the soil does not. Left in
the balance, a probe drifting dry makes a zone look thirsty and waters it early; a probe
drifting wet starves it. One probe alone cannot show this — its drift looks like the zone
using more (or less) water than Kc·ET0 says, which is what the estimator's ET scale is for —
but a zone with two or more probes can: every probe sees the same weather and the same water,
so the *difference* between one probe and the mean of the others changes only with the soil's
wetness (two calibrations' slopes differ) and not with time.

Model, per probe j and day t, over the last :data:`WINDOW_DAYS` days:

    d_j(t) = θ_j(t) − mean_{k ≠ j} θ_k(t) = a + c · mean_{k ≠ j} θ_k(t) + r · t + e

``a`` is the spot's constant offset (soil variability), ``c`` the slope difference of the
calibrations, ``r`` the drift [m³ m⁻³ day⁻¹]. "The others" are each taken on their own level
(every probe's offset and the zone's day values fitted together, :data:`FIT_ROUNDS`), so a
day one of them is missing is no step in ``d_j``. A probe drifts when ``|r|`` ≥
:data:`RATE_MIN` and it is significant: the two-sided p of Student's t ``|r| / se(r)`` on
n − 3 degrees of freedom at most 10^−:data:`SIGNIFICANCE`. In a zone of two probes
the difference is symmetric and both are set aside (the zone is then balanced by the model and
its learned ET scale alone); in a zone of three or more, the probe whose drift is most
significant is set aside and the rest are tested again without it.

Numbers (project choices, each with its reason):

* :data:`RATE_MIN` 0.001 m³ m⁻³ a day: 0.03 in a month, three times the ±0.01 of a field
  calibration; a healthy probe pair's offset moves less than that in a season (the soil
  settling after installation);
* :data:`SIGNIFICANCE` 5 (p ≤ 10⁻⁵): the residuals are autocorrelated from day to day (the
  calibrations' slopes are not exactly linear, water above field capacity drains unevenly),
  so the nominal rate is optimistic, and each probe is tested every evening;
* :data:`MIN_DAYS` 7 days in common: a week of readings before any judgement.

References
----------
.. [Dorigo] W. A. Dorigo et al., "Global automated quality control of in situ soil moisture
   data from the International Soil Moisture Network", Vadose Zone J. 12(3) (2013),
   doi:10.2136/vzj2012.0097 — automated quality flags for soil-moisture probes: range,
   consistency with precipitation and soil temperature, and the series' shape (spikes,
   breaks, plateaus). It has no test against a zone's other probes; the one here is ours,
   for the slow drift those flags do not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

F64 = NDArray[np.float64]

WINDOW_DAYS: Final = 30
#: Alternating rounds of the probes' offsets and the zone's day values (converge in a few).
FIT_ROUNDS: Final = 5
#: No probe repeats better than this from day to day [m³ m⁻³] (half an index point of a
#: two-point index over a ~0.45 band); a perfect fit does not make any slope significant.
RESID_FLOOR: Final = 0.002
MIN_DAYS: Final = 7
RATE_MIN: Final = 0.001
#: −log10 of the largest p-value of a drift [-].
SIGNIFICANCE: Final = 5.0


@dataclass(slots=True)
class ProbeDays:
    """The last :data:`WINDOW_DAYS` days' calibrated θ of P probes (NaN: no usable reading),
    as a ring indexed by local day."""

    theta: F64
    day: NDArray[np.int64]

    @classmethod
    def empty(cls, n_probes: int = 0) -> ProbeDays:
        return cls(np.full((n_probes, WINDOW_DAYS), np.nan),
                   np.full(WINDOW_DAYS, -1, np.int64))

    def grow(self, n_probes: int) -> None:
        """Room for probes added since (their history starts empty)."""
        extra = n_probes - self.theta.shape[0]
        if extra > 0:
            self.theta = np.concatenate([self.theta, np.full((extra, WINDOW_DAYS), np.nan)])

    def record(self, day: int, probes: ArrayLike, theta: ArrayLike) -> None:
        """Store ``theta`` of the probe rows ``probes`` as day ``day``'s."""
        slot = day % WINDOW_DAYS
        if self.day[slot] != day:
            self.theta[:, slot] = np.nan
            self.day[slot] = day
        self.theta[np.asarray(probes, np.int64), slot] = np.asarray(theta, np.float64)

    def window(self, today: int) -> F64:
        """(P, WINDOW_DAYS) θ of the days within the window ending ``today``, NaN elsewhere."""
        keep = (self.day > today - WINDOW_DAYS) & (self.day <= today)
        return np.where(keep[None, :], self.theta, np.nan)

    def days(self) -> F64:
        return self.day.astype(np.float64)


def drifting(theta: ArrayLike, days: ArrayLike, probe_zone: ArrayLike, *,
             rate_min: float = RATE_MIN, significance: float = SIGNIFICANCE,
             min_days: int = MIN_DAYS) -> NDArray[np.bool_]:
    """Which probes drift against the other probes of their zone.

    Parameters
    ----------
    theta : array_like, shape (P, D)
        Calibrated water content per probe and day [m³ m⁻³]; NaN where the probe gave no
        usable reading.
    days : array_like, shape (D,)
        The day of each column [days] (any origin; columns need not be in order).
    probe_zone : array_like of int, shape (P,)
        Zone of each probe; probes are compared only within their zone.

    Returns
    -------
    numpy.ndarray of bool, shape (P,)
        True for the probes to set aside (see the module docstring for the two-probe case).
    """
    th = np.asarray(theta, np.float64)
    zone = np.asarray(probe_zone, np.int64)
    t = np.asarray(days, np.float64)
    out = np.zeros(th.shape[0], bool)
    if th.size == 0:
        return out
    for _ in range(max(int(np.bincount(zone).max(initial=0)) - 1, 0)):
        score = _drift_score(np.where(out[:, None], np.nan, th), t, zone, rate_min=rate_min,
                             min_days=min_days)
        hit = score >= significance
        if not hit.any():
            break
        # Per zone, set aside the most significant drift; in a pair, both (it is symmetric).
        n_left = np.bincount(zone, weights=(~out).astype(np.float64), minlength=zone.max() + 1)
        best = np.full(zone.max() + 1, -np.inf)
        np.maximum.at(best, zone[hit], score[hit])
        take = hit & ((score >= best[zone]) | (n_left[zone] <= 2))
        out |= take
    return out


def _drift_score(th: F64, t: F64, zone: NDArray[np.int64], *, rate_min: float,
                 min_days: int) -> F64:
    """−log10 p of each probe's drift (0 where it is below ``rate_min`` or not testable)."""
    n_zones = int(zone.max()) + 1
    ok = np.isfinite(th)
    val = np.where(ok, th, 0.0)
    cnt = ok.astype(np.float64)

    def zone_sum(x: F64) -> F64:
        out = np.zeros((n_zones, th.shape[1]))
        np.add.at(out, zone, x)
        return out

    z_cnt = zone_sum(cnt)
    # Each probe's own level: θ = the zone's day value + the probe's offset (two-way fixed
    # effects, by alternating means), so that "the others" on a day one of them is missing
    # stand for the same level as on a day they all reported.
    off = np.zeros(th.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(FIT_ROUNDS):
            day = zone_sum(np.where(ok, th - off[:, None], 0.0)) / z_cnt
            off = (np.where(ok, th - day[zone], 0.0).sum(axis=1)
                   / np.maximum(cnt.sum(axis=1), 1.0))
    level = np.where(ok, th - off[:, None], 0.0)
    others = z_cnt[zone] - ok
    use = ok & (others > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (zone_sum(level)[zone] - level) / others
    d = val - np.where(use, m, 0.0)
    m = np.where(use, m, 0.0)
    n = use.sum(axis=1).astype(np.float64)
    t_mean = (use * t[None, :]).sum(axis=1) / np.maximum(n, 1.0)
    tt = np.where(use, t[None, :] - t_mean[:, None], 0.0)  # centred: r apart from a
    score = np.zeros(th.shape[0])
    good = n >= min_days
    if not good.any():
        return score
    x = np.stack([use.astype(np.float64), m, tt], axis=2)[good]  # (G, D, 3)
    y = np.where(use, d, 0.0)[good]
    xtx = np.einsum("gdi,gdj->gij", x, x)
    xty = np.einsum("gdi,gd->gi", x, y)
    ridge = 1e-12 * np.eye(3)
    try:
        inv = np.linalg.inv(xtx + ridge)
    except np.linalg.LinAlgError:  # pragma: no cover - the ridge keeps it invertible
        return score
    beta = np.einsum("gij,gj->gi", inv, xty)
    resid = y - np.einsum("gdi,gi->gd", x, beta)
    dof = np.maximum(n[good] - 3.0, 1.0)
    s2 = np.maximum((resid ** 2).sum(axis=1) / dof, RESID_FLOOR ** 2)
    se = np.sqrt(np.maximum(s2 * inv[:, 2, 2], 1e-30))
    r = beta[:, 2]
    # Significance as −log10 of the two-sided p of Student's t with n − 3 degrees of freedom
    # (a short window's t has heavy tails: t = 5 on 4 dof is p ≈ 0.008).
    log_p = -np.log10(np.maximum(2.0 * stats.t.sf(np.abs(r) / se, dof), 1e-300))
    score[good] = np.where(np.abs(r) >= rate_min, log_p, 0.0)
    return score
