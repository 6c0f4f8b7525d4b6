"""Which rays from a window toward the sun pass through a tree crown (pure numpy).

Coordinates are local east/north/up metres with the window's foot at the origin. A crown is a
solid of revolution about the trunk's vertical axis:

- ``ellipsoid`` (broadleaf): centre halfway between crown base and tree top, horizontal
  semi-axis = crown radius, vertical semi-axis = half the crown depth;
- ``cone`` (conifer): apex at the tree top, a disc of the crown radius at the crown base.

A ray ``o + t·d`` (t > 0) is shadowed when it meets the solid. Crowns are treated as opaque:
a conservative choice (leafless deciduous crowns let some sun through in winter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Bool2 = NDArray[np.bool_]
F = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Crowns:
    """m crowns as columns: position [m east, m north], top and base height [m], radius [m]."""

    east_m: F
    north_m: F
    top_m: F
    base_m: F
    radius_m: F
    cone: NDArray[np.bool_]  # True: cone, False: ellipsoid

    def __post_init__(self) -> None:
        n = self.east_m.shape
        for name in ("north_m", "top_m", "base_m", "radius_m", "cone"):
            if getattr(self, name).shape != n:
                raise ValueError(f"Crowns.{name} has shape {getattr(self, name).shape}, "
                                 f"expected {n}")
        if np.any(self.top_m <= self.base_m):
            raise ValueError("Crowns: top_m must be above base_m for every crown")
        if np.any(self.radius_m <= 0):
            raise ValueError("Crowns: radius_m must be positive")


def sun_directions(elevation_deg: F, azimuth_deg: F) -> F:
    """Unit vectors (n, 3) east/north/up toward the sun."""
    el, az = np.radians(elevation_deg), np.radians(azimuth_deg)
    return np.stack([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)], axis=-1)


def _ellipsoid(o: F, d: F, c: Crowns) -> Bool2:
    centre = np.stack([c.east_m, c.north_m, (c.top_m + c.base_m) / 2], axis=-1)  # (m, 3)
    scale = np.stack([c.radius_m, c.radius_m, (c.top_m - c.base_m) / 2], axis=-1)
    p = (o[None, :] - centre) / scale  # (m, 3)
    q = d[None, :, :] / scale[:, None, :]  # (m, n, 3)
    a = np.einsum("mnk,mnk->mn", q, q)
    b = 2 * np.einsum("mk,mnk->mn", p, q)
    cc = np.einsum("mk,mk->m", p, p)[:, None] - 1
    disc = b * b - 4 * a * cc
    with np.errstate(invalid="ignore"):
        far = (-b + np.sqrt(disc)) / (2 * a)
    return np.asarray((disc >= 0) & (far > 0), bool)


def _cone(o: F, d: F, c: Crowns) -> Bool2:
    k2 = (c.radius_m / (c.top_m - c.base_m))[:, None] ** 2  # (m, 1)
    px, py = (o[0] - c.east_m)[:, None], (o[1] - c.north_m)[:, None]
    pz = (o[2] - c.top_m)[:, None]
    dx, dy, dz = d[None, :, 0], d[None, :, 1], d[None, :, 2]
    a = dx * dx + dy * dy - k2 * dz * dz
    b = 2 * (px * dx + py * dy - k2 * pz * dz)
    cc = px * px + py * py - k2 * pz * pz
    hit = np.zeros(a.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = b * b - 4 * a * cc
        root = np.sqrt(np.where(disc >= 0, disc, np.nan))
        for t in ((-b - root) / (2 * a), (-b + root) / (2 * a)):
            z = o[2] + t * dz
            hit |= (t > 0) & (z >= c.base_m[:, None]) & (z <= c.top_m[:, None])
        t_cap = (c.base_m[:, None] - o[2]) / dz
        x, y = px + t_cap * dx, py + t_cap * dy
        hit |= (t_cap > 0) & (x * x + y * y <= (c.radius_m ** 2)[:, None])
    return hit


def blocked_by_crowns(origin_m: F, directions: F, crowns: Crowns) -> Bool2:
    """(m, n): does the ray from ``origin_m`` (3,) along ``directions[j]`` meet crown i?"""
    if origin_m.shape != (3,):
        raise ValueError(f"origin_m must have shape (3,), got {origin_m.shape}")
    if directions.ndim != 2 or directions.shape[1] != 3:
        raise ValueError(f"directions must have shape (n, 3), got {directions.shape}")
    out = np.zeros((crowns.east_m.shape[0], directions.shape[0]), dtype=bool)
    for shape_mask, fn in ((~crowns.cone, _ellipsoid), (crowns.cone, _cone)):
        if shape_mask.any():
            sub = Crowns(*(getattr(crowns, f)[shape_mask] for f in
                           ("east_m", "north_m", "top_m", "base_m", "radius_m", "cone")))
            out[shape_mask] = fn(origin_m, directions, sub)
    return out
