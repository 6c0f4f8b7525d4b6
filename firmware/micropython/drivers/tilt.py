"""Tilt from gravity: pitch/roll of an accelerometer mounted with +z along the trunk axis.

``pitch = atan2(-ax, sqrt(ay² + az²))`` and ``roll = atan2(ay, az)`` (the usual aerospace
convention); an upright sensor (0, 0, +1 g) reads 0°/0°. Averaging the *vector* over n samples
and taking the angles once both costs one atan2 pair and averages noise the way a low-cost MEMS
sensor needs (docs/domain.md: averaging over ~2 minutes brings it to ~0.015°). ``roll`` is clamped
to ±90° (protocol range): beyond that the sensor is upside down and the exact figure no longer
matters.

``BurstSampler`` records evenly spaced pitch/roll samples for sway analysis (docs/domain.md:
10–20 Hz bursts track sway at 0.05–3 Hz) into arrays allocated once.
"""

import math
import time
from array import array

_RAD2DEG = 180.0 / math.pi


def pitch_roll_deg(ax, ay, az):
    """``(pitch_deg, roll_deg)`` from a gravity vector in any consistent unit."""
    pitch = math.atan2(-ax, math.sqrt(ay * ay + az * az)) * _RAD2DEG
    roll = math.atan2(ay, az) * _RAD2DEG
    if roll > 90.0:
        roll = 90.0
    elif roll < -90.0:
        roll = -90.0
    return pitch, roll


class Tilt:
    """Static tilt averaged over ``samples`` reads of an accelerometer driver.

    ``accel`` has ``read_raw_into(out)`` and ``temp_c()`` (MPU6050, ADXL345).
    """

    def __init__(self, accel, samples=32, gap_ms=2):
        if samples < 1:
            raise ValueError("tilt samples must be >= 1")
        self.accel = accel
        self.samples = samples
        self.gap_ms = gap_ms
        self._v = [0, 0, 0]

    def read(self):
        """``(pitch_deg, roll_deg, n)``."""
        v = self._v
        sx = sy = sz = 0
        for i in range(self.samples):
            if i and self.gap_ms:
                time.sleep_ms(self.gap_ms)
            self.accel.read_raw_into(v)
            sx += v[0]
            sy += v[1]
            sz += v[2]
        if not (sx or sy or sz):
            raise OSError("accelerometer returned no data (asleep or reset?)")
        pitch, roll = pitch_roll_deg(sx, sy, sz)
        return pitch, roll, self.samples


class BurstSampler:
    """``count`` samples at ``hz``, sample *i* at ``t0 + i/hz`` (scheduled on ticks, no drift).

    After ``run()``, ``pitch``/``roll`` hold the per-sample angles, and ``mean(k)`` the static
    tilt of the summed gravity vector over chunk ``k`` (samples ``k*chunk`` ..), or over the
    whole burst with ``k`` None. Chunks let a long burst leave as several readings of a few kB
    each instead of one payload too large for the heap.
    """

    def __init__(self, accel, hz, count, chunk=None):
        if hz <= 0 or count < 1:
            raise ValueError("burst needs hz > 0 and count >= 1")
        self.accel = accel
        self.hz = hz
        self.count = count
        self.chunk = chunk if chunk and chunk > 0 else count
        self.chunks = (count + self.chunk - 1) // self.chunk
        self.pitch = array("f", bytearray(4 * count))
        self.roll = array("f", bytearray(4 * count))
        self._v = [0, 0, 0]
        self._sums = [0] * (3 * self.chunks)
        self.n = 0  # samples taken by the last run
        self.calm = False  # the last run's look stayed below its trigger

    def run(self, look=0, trigger_deg=0.0):
        """Sample the burst; returns the samples taken (``self.n``).

        With ``look`` > 0 and ``trigger_deg`` > 0 the first ``look`` samples are a look: if
        their sway RMS (:meth:`sway_rms_deg`) stays below ``trigger_deg`` the burst stops
        there (``self.calm`` True: nothing to send but the static tilt), else it runs on
        seamlessly. Without a look ``self.calm`` is False.
        """
        v = self._v
        sums = self._sums
        for j in range(len(sums)):
            sums[j] = 0
        period_ms = 1000.0 / self.hz
        look = min(look, self.count) if trigger_deg > 0 else 0
        self.calm = False
        stop = self.count
        t0 = time.ticks_ms()
        i = 0
        while i < stop:
            due = time.ticks_add(t0, int(i * period_ms))
            wait = time.ticks_diff(due, time.ticks_ms())
            if wait > 0:
                time.sleep_ms(wait)
            self.accel.read_raw_into(v)
            k = 3 * (i // self.chunk)
            sums[k] += v[0]
            sums[k + 1] += v[1]
            sums[k + 2] += v[2]
            self.pitch[i], self.roll[i] = pitch_roll_deg(v[0], v[1], v[2])
            i += 1
            if i == look:
                self.n = i
                if self.sway_rms_deg() < trigger_deg:
                    self.calm = True
                    stop = i
        self.n = stop
        self.chunks = (stop + self.chunk - 1) // self.chunk
        for k in range(self.chunks):
            if not (sums[3 * k] or sums[3 * k + 1] or sums[3 * k + 2]):
                raise OSError("accelerometer returned no data (asleep or reset?)")
        return stop

    def sway_rms_deg(self):
        """RMS of the sampled pitch and roll about their means (``hypot`` of the two) [deg]
        over the first ``self.n`` samples: the sway seen, sensor noise included."""
        n = self.n
        if n < 2:
            return 0.0
        tot = 0.0
        for arr in (self.pitch, self.roll):
            m = 0.0
            for i in range(n):
                m += arr[i]
            m /= n
            q = 0.0
            for i in range(n):
                d = arr[i] - m
                q += d * d
            tot += q / n
        return math.sqrt(tot)

    def span(self, k):
        """``(start, stop)`` sample indices of chunk ``k`` (of the samples taken)."""
        start = k * self.chunk
        return start, min(self.n or self.count, start + self.chunk)

    def mean(self, k=None):
        """``(pitch_deg, roll_deg)`` of the summed gravity vector of chunk ``k`` (or all)."""
        s = self._sums
        if k is not None:
            return pitch_roll_deg(s[3 * k], s[3 * k + 1], s[3 * k + 2])
        return pitch_roll_deg(sum(s[0::3]), sum(s[1::3]), sum(s[2::3]))
