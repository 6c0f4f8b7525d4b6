"""InvenSense MPU-6050 accelerometer over I2C (gyro left unused): static tilt and sway.

Takes a bus object (``machine.I2C`` or the unix HAL's simulated bus) so the same driver runs on
the ESP32 and in tests. Registers and values follow the MPU-6000/6050 Register Map rev 4.2:
the chip wakes up asleep (PWR_MGMT_1 = 0x40), so ``__init__`` clears SLEEP and selects the gyro
PLL clock; ±2 g full scale gives 16384 LSB/g; the temperature is ``raw / 340 + 36.53`` °C.
All reads go into a buffer allocated once (``readfrom_mem_into``), so sampling allocates nothing.
"""

from micropython import const

ADDR = const(0x68)  # AD0 low; 0x69 with AD0 high
_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_XOUT_H = const(0x3B)  # X, Y, Z (big-endian int16), then TEMP_OUT
_PWR_MGMT_1 = const(0x6B)
_WHO_AM_I = const(0x75)
_WHO_AM_I_VALUES = (0x68, 0x70, 0x72)  # MPU-6050 and the register-compatible 6500 family
_DLPF_10HZ = const(5)  # accel bandwidth 10 Hz: passes sway (≤3 Hz), damps vibration


def _i16be(buf, i):
    v = (buf[i] << 8) | buf[i + 1]
    return v - 65536 if v & 0x8000 else v


class MPU6050:
    """``read_raw_into(out)`` fills ``out[0..2]`` with x, y, z in LSB (``lsb_per_g`` per g)."""

    lsb_per_g = 16384

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(8)
        self._one = bytearray(1)
        self._temp_raw = None
        i2c.readfrom_mem_into(addr, _WHO_AM_I, self._one)
        if self._one[0] not in _WHO_AM_I_VALUES:
            raise OSError("no MPU-6050 at 0x%02x (WHO_AM_I 0x%02x)" % (addr, self._one[0]))
        self._set(_PWR_MGMT_1, 0x01)  # SLEEP off, clock from the X gyro PLL
        self._set(_SMPLRT_DIV, 9)  # 1 kHz / (1 + 9) = 100 Hz internal rate
        self._set(_CONFIG, _DLPF_10HZ)
        self._set(_ACCEL_CONFIG, 0x00)  # ±2 g

    def _set(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.addr, reg, self._one)

    def read_raw_into(self, out):
        buf = self._buf
        self.i2c.readfrom_mem_into(self.addr, _ACCEL_XOUT_H, buf)
        out[0] = _i16be(buf, 0)
        out[1] = _i16be(buf, 2)
        out[2] = _i16be(buf, 4)
        self._temp_raw = _i16be(buf, 6)

    def temp_c(self):
        """Die temperature [°C] from the last read (for temperature compensation of tilt)."""
        if self._temp_raw is None:
            return None
        return self._temp_raw / 340.0 + 36.53
