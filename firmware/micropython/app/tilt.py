"""Tilt node logic: static trunk-base tilt, optionally with a sway burst, per wake-up."""

from drivers.tilt import BurstSampler, Tilt
from lib import proto

_CANDIDATES = (("mpu6050", 0x68), ("mpu6050", 0x69), ("adxl345", 0x53), ("adxl345", 0x1D))


def open_accel(i2c, chip="auto", addr=None):
    """The accelerometer driver for ``chip`` (``auto`` probes the bus: MPU-6050, then ADXL345)."""
    if chip == "auto":
        found = i2c.scan()
        for cand_chip, cand_addr in _CANDIDATES:
            if cand_addr in found:
                chip, addr = cand_chip, cand_addr
                break
        else:
            raise OSError("no accelerometer on the I2C bus (found %s)" % found)
    if chip == "mpu6050":
        from drivers.mpu6050 import ADDR, MPU6050

        return MPU6050(i2c, addr or ADDR)
    if chip == "adxl345":
        from drivers.adxl345 import ADDR, ADXL345

        return ADXL345(i2c, addr or ADDR)
    raise ValueError("config: accel must be auto, mpu6050 or adxl345, not %r" % chip)


class TiltApp:
    kind = "tilt"
    channel = "tilt"

    def __init__(self, hal, cfg, log):
        self.hal = hal
        self.log = log
        self.accel = open_accel(hal.i2c(), cfg["accel"], cfg["accel_addr"])
        self.tilt = Tilt(self.accel, cfg["tilt_samples"])
        count = min(int(cfg["burst_s"] * cfg["burst_hz"]), cfg["burst_max"])
        self.burst = BurstSampler(self.accel, cfg["burst_hz"], count) if count > 0 else None

    def measure(self, seq):
        """Return the encoded ``TiltReading``.

        With a burst, ``ts_ms`` is the time of the first burst sample and the static tilt is
        the mean over the burst (``n`` = burst samples); without, ``n`` quick samples.
        """
        hal = self.hal
        ts_ms = hal.clock_ms()
        burst = None
        if self.burst is not None:
            n = self.burst.run()
            pitch, roll = self.burst.mean()
            burst = (self.burst.hz, self.burst.pitch, self.burst.roll, n)
        else:
            pitch, roll, n = self.tilt.read()
        self.log.debug("tilt pitch=%.3f roll=%.3f n=%d", pitch, roll, n)
        return proto.tilt(seq, ts_ms, pitch, roll, n, temp_c=self.accel.temp_c(),
                          bat_v=hal.battery_v(), burst=burst)
