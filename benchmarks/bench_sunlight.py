"""Sunlight check speed: the vectorized crown-shadow test against a scalar Python loop doing
the same ray-ellipsoid/cone test sample by sample, measured in the same run on the same crowns.

    .venv/bin/python benchmarks/bench_sunlight.py --crowns 10 100 1000

Prints ms per window for both, the ratio, and whether the two agree on every sample.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time

import numpy as np

from greeniot.sunlight import Crowns, sun_directions, sun_path, sunlight_hours


def scalar_blocked(o: tuple[float, float, float], d: tuple[float, float, float], e: float,
                   n: float, top: float, base: float, r: float, cone: bool) -> bool:
    """One ray, one crown, plain Python (the reference)."""
    if not cone:
        c = (e, n, (top + base) / 2)
        s = (r, r, (top - base) / 2)
        p = [(o[i] - c[i]) / s[i] for i in range(3)]
        q = [d[i] / s[i] for i in range(3)]
        a = sum(x * x for x in q)
        b = 2 * sum(p[i] * q[i] for i in range(3))
        cc = sum(x * x for x in p) - 1
        disc = b * b - 4 * a * cc
        return disc >= 0 and (-b + math.sqrt(disc)) / (2 * a) > 0
    k2 = (r / (top - base)) ** 2
    px, py, pz = o[0] - e, o[1] - n, o[2] - top
    a = d[0] ** 2 + d[1] ** 2 - k2 * d[2] ** 2
    b = 2 * (px * d[0] + py * d[1] - k2 * pz * d[2])
    cc = px * px + py * py - k2 * pz * pz
    disc = b * b - 4 * a * cc
    if disc >= 0 and a != 0:
        for t in ((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)):
            if t > 0 and base <= o[2] + t * d[2] <= top:
                return True
    if d[2] != 0:
        t = (base - o[2]) / d[2]
        if t > 0 and (px + t * d[0]) ** 2 + (py + t * d[1]) ** 2 <= r * r:
            return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crowns", type=int, nargs="+", default=[10, 100, 1000])
    args = ap.parse_args()
    path = sun_path(31.23, 121.47, dt.date(2026, 12, 22), 60)
    rng = np.random.default_rng(1)
    for m in args.crowns:
        top = rng.uniform(5, 20, m)
        c = Crowns(rng.uniform(-50, 50, m), rng.uniform(-50, 50, m), top, top * 0.3,
                   rng.uniform(1, 5, m), rng.random(m) < 0.3)
        t0 = time.perf_counter()
        sun, blocked = sunlight_hours(path, height_m=4.5, facing_deg=180.0, crowns=c)
        fast = time.perf_counter() - t0
        dirs = sun_directions(path.elevation_deg, path.azimuth_deg)
        t0 = time.perf_counter()
        ref = np.array([[bool(sun[j]) and scalar_blocked(
            (0.0, 0.0, 4.5), tuple(dirs[j]), c.east_m[i], c.north_m[i], c.top_m[i],
            c.base_m[i], c.radius_m[i], bool(c.cone[i])) for j in range(len(dirs))]
            for i in range(m)])
        slow = time.perf_counter() - t0
        agree = bool((ref == blocked).all())
        print(f"{m:>5} crowns x {len(dirs)} samples: vectorized {fast * 1000:8.1f} ms, "
              f"scalar {slow * 1000:9.1f} ms, ratio {slow / fast:6.1f}x, agree={agree}")


if __name__ == "__main__":
    main()
