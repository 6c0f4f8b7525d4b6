"""A zone's probe mean on one reference while probes come and go (pure numpy).

The estimator (:mod:`.estimator`) learns one offset b per zone: the zone's probe mean minus
the true depletion. Each probe reads its own spot, wetter or drier than the zone by ±5 mm over
a 0.4 m root zone, so the plain mean of the probes that reported *today* is another quantity
whenever one of them is missing — a node offline for a day, a probe set aside as faulty or
drifting — and the estimator had to learn b again from its prior (and Dr jumped by the
missing probe's share of the spread).

Here every probe that is a *member* of its zone's reference keeps its offset against it,
``rel_j`` [mm]. The zone's value of the day is the weighted mean of ``z_j − rel_j`` over the
members that reported, which estimates the same reference whichever of them did: a probe
that sent nothing (offline, no reading in the evening) stays a member and moves nothing.
``rel_j`` is learned on the days a member reports with at least one other (an exponential
average with weight :data:`ALPHA`, so it follows the slow change of one probe's offset with
wetness that two calibrations' slopes give). A probe that is not a member yet (new, or back
from a fault) joins at its difference to the reference of that day, without moving it.

The reference is *rebased* — and the estimator told to learn its offset b again — only when
it cannot be kept: a member is set aside for a fault (faulty, drifting: until it was found,
its fault moved the reference, so the offsets are centred on the remaining members and their
plain mean becomes the reference), or no member is left to report while other probes do (the
zone starts again from their plain mean).

:data:`ALPHA` 0.2: the offset is averaged over ~5 days (its noise then ~1/3 of one reading's),
short enough to follow a wetting-drying cycle's slope effect of a few mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]

ALPHA: Final = 0.2


@dataclass(slots=True)
class ProbeOffsets:
    """Per probe: its offset against its zone's reference [mm], and whether it is a member."""

    rel_mm: F64
    member: NDArray[np.bool_]

    @classmethod
    def empty(cls, n_probes: int = 0) -> ProbeOffsets:
        return cls(np.zeros(n_probes), np.zeros(n_probes, bool))

    def grow(self, n_probes: int) -> None:
        extra = n_probes - self.rel_mm.shape[0]
        if extra > 0:
            self.rel_mm = np.concatenate([self.rel_mm, np.zeros(extra)])
            self.member = np.concatenate([self.member, np.zeros(extra, bool)])


def zone_reference(dr_probe_mm: ArrayLike, weight: ArrayLike, probe_zone: ArrayLike,
                   n_zones: int, offsets: ProbeOffsets, probes: ArrayLike | None = None, *,
                   rejected: ArrayLike | None = None, alpha: float = ALPHA
                   ) -> tuple[F64, F64, NDArray[np.bool_], NDArray[np.bool_]]:
    """The zones' probe depletion on their reference, the summed weight of the probes that
    gave it, which zones' reference was rebased for a fault today, and which started afresh
    (no member reported); ``offsets`` is updated in place.

    Parameters
    ----------
    dr_probe_mm : array_like, shape (P,)
        Each probe's depletion 1000 (θFC − θ) Zr of the day [mm]; NaN: no usable reading.
    weight : array_like, shape (P,)
        Quality weight per probe [0..1].
    probe_zone : array_like of int, shape (P,)
        Zone row (0..n_zones − 1) of each probe.
    probes : array_like of int, shape (P,), optional
        The rows of ``offsets`` these probes are (default 0..P − 1).
    rejected : array_like of bool, shape (P,), optional
        Probes set aside for a fault today (their ``dr_probe_mm`` is NaN too); a missing
        reading is not a rejection.

    Returns
    -------
    (dr_mm, weight_sum, rebased, fresh) : numpy.ndarray, shape (n_zones,)
        NaN and 0 for zones without a usable probe today; ``rebased``: a member left for a
        fault, so the reference is a new one (its offset must be learned again); ``fresh``:
        the reference is the plain mean of today's probes (a zone's first probes, or after a
        restart that kept no offsets: whether that is a new set of probes is the estimator's
        own test of their summed weight).
    """
    z = np.asarray(dr_probe_mm, np.float64)
    zone = np.asarray(probe_zone, np.int64)
    rows = np.arange(z.size) if probes is None else np.asarray(probes, np.int64)
    wq = np.broadcast_to(np.clip(np.asarray(weight, np.float64), 0.0, 1.0), z.shape)
    here = np.isfinite(z) & (wq > 0)
    w = np.where(here, wq, 0.0)
    out = np.zeros(z.size, bool) if rejected is None else np.asarray(rejected, bool)
    zv = np.where(here, z, 0.0)
    rel = offsets.rel_mm[rows].copy()
    member = offsets.member[rows].copy()

    def mean(mask: NDArray[np.bool_], values: F64, wt: F64 = w) -> tuple[F64, F64]:
        ws = np.bincount(zone, weights=np.where(mask, wt, 0.0), minlength=n_zones)
        tot = np.bincount(zone, weights=np.where(mask, wt * values, 0.0), minlength=n_zones)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.asarray(np.where(ws > 0, tot / ws, np.nan), np.float64),
                    np.asarray(ws, np.float64))

    reporting = member & here
    ref, w_rep = mean(reporting, zv - rel)
    plain, w_here = mean(here, zv)
    # No member reports but other probes do: a new reference from their plain mean.
    fresh = (w_rep == 0) & (w_here > 0)
    ref = np.where(fresh, plain, ref)
    member = np.where(fresh[zone], False, member)
    # Members that report with another one learn their offset; the others join.
    n_here = np.bincount(zone, weights=here.astype(np.float64), minlength=n_zones)
    learn = member & here & (n_here[zone] >= 2)
    rel = np.where(learn, rel + alpha * (zv - rel - ref[zone]), rel)
    join = here & ~member
    rel = np.where(join, zv - ref[zone], rel)
    member |= join
    # A member set aside for a fault leaves: centre the offsets on the remaining members.
    leave = member & out
    member &= ~out
    left = np.bincount(zone, weights=leave.astype(np.float64), minlength=n_zones) > 0
    centre, _ = mean(member & left[zone], rel, wq)
    rel = np.where(member & left[zone], rel - np.nan_to_num(centre)[zone], rel)
    offsets.rel_mm[rows] = rel
    offsets.member[rows] = member
    return ref, w_here, left, fresh
