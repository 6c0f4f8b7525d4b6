"""Tilt from gravity: pitch/roll of an accelerometer mounted with +z along the trunk axis.

``pitch = atan2(-ax, sqrt(ay² + az²))`` and ``roll = atan2(ay, az)`` (the usual aerospace
convention); an upright sensor (0, 0, +1 g) reads 0°/0°. Averaging the *vector* over n samples
and taking the angles once both costs one atan2 pair and averages noise the way a low-cost MEMS
sensor needs (DESIGN.md: averaging over ~2 minutes brings it to ~0.015°). ``roll`` is clamped
to ±90° (protocol range): beyond that the sensor is upside down and the exact figure no longer
matters.

``BurstSampler`` records evenly spaced pitch/roll samples for sway analysis (DESIGN.md: 10–20 Hz
bursts track sway at 0.05–3 Hz) into arrays allocated once.
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
        pitch, roll = pitch_roll_deg(sx, sy, sz)
        return pitch, roll, self.samples


class BurstSampler:
    """``count`` samples at ``hz``, sample *i* at ``t0 + i/hz`` (scheduled on ticks, no drift).

    After ``run()``, ``pitch``/``roll`` hold the per-sample angles and ``mean()`` the static
    tilt of the summed gravity vector over the burst.
    """

    def __init__(self, accel, hz, count):
        if hz <= 0 or count < 1:
            raise ValueError("burst needs hz > 0 and count >= 1")
        self.accel = accel
        self.hz = hz
        self.count = count
        self.pitch = array("f", bytearray(4 * count))
        self.roll = array("f", bytearray(4 * count))
        self._v = [0, 0, 0]
        self._sum = [0, 0, 0]

    def run(self):
        v = self._v
        s = self._sum
        s[0] = s[1] = s[2] = 0
        period_ms = 1000.0 / self.hz
        t0 = time.ticks_ms()
        for i in range(self.count):
            due = time.ticks_add(t0, int(i * period_ms))
            wait = time.ticks_diff(due, time.ticks_ms())
            if wait > 0:
                time.sleep_ms(wait)
            self.accel.read_raw_into(v)
            s[0] += v[0]
            s[1] += v[1]
            s[2] += v[2]
            self.pitch[i], self.roll[i] = pitch_roll_deg(v[0], v[1], v[2])
        return self.count

    def mean(self):
        """``(pitch_deg, roll_deg)`` of the burst's summed gravity vector."""
        return pitch_roll_deg(self._sum[0], self._sum[1], self._sum[2])
