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
        self.burst = None
        self.look = max(2, int(cfg["burst_look_s"] * cfg["burst_hz"]))
        self.trigger_deg = cfg["burst_trigger_deg"]
        self.windy = False  # the last reading's look saw sway at or above the trigger
        if count > 0:
            self.burst = BurstSampler(self.accel, cfg["burst_hz"], count, cfg["burst_chunk"])

    def measure(self, next_seq):
        """Yield encoded ``TiltReading`` payloads, each with ``next_seq()`` as its seq.

        Without a burst: one reading averaged over ``tilt_samples`` quick samples. With one,
        the burst's first ``burst_look_s`` are a look: below ``burst_trigger_deg`` of sway
        RMS, one static reading (the look's mean) and no burst (``windy`` False); else a
        reading per chunk of the burst; its ``ts_ms`` is the chunk's first sample time
        (``t0 + start/hz``), its static tilt and ``n`` cover that chunk, and its ``burst`` holds
        the chunk's samples, so the backend sees one continuous series.
        """
        hal = self.hal
        ts_ms = hal.clock_ms()
        bat_v = hal.battery_v()
        b = self.burst
        if b is None:
            pitch, roll, n = self.tilt.read()
            self.log.debug("tilt pitch=%.3f roll=%.3f n=%d", pitch, roll, n)
            yield proto.tilt(next_seq(), ts_ms, pitch, roll, n, temp_c=self.accel.temp_c(),
                             bat_v=bat_v)
            return
        taken = b.run(self.look, self.trigger_deg)
        temp_c = self.accel.temp_c()
        self.windy = self.trigger_deg > 0 and not b.calm
        if b.calm:  # calm: the look's mean is the static reading, no burst to send
            pitch, roll = b.mean()
            self.log.debug("tilt pitch=%.3f roll=%.3f n=%d (calm look)", pitch, roll, taken)
            yield proto.tilt(next_seq(), ts_ms, pitch, roll, taken, temp_c=temp_c, bat_v=bat_v)
            return
        for k in range(b.chunks):
            start, stop = b.span(k)
            pitch, roll = b.mean(k)
            yield proto.tilt(next_seq(), ts_ms + int(start * 1000 / b.hz), pitch, roll,
                             stop - start, temp_c=temp_c, bat_v=bat_v,
                             burst=(b.hz, b.pitch, b.roll, start, stop))
