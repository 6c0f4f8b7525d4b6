"""Analog Devices ADXL345 accelerometer over I2C.

Registers from the ADXL345 data sheet (Rev. G): DEVID 0x00 reads 0xE5; measurement starts only
after POWER_CTL's Measure bit (0x08) is set; DATA_FORMAT FULL_RES (0x08) at ±2 g gives
256 LSB/g (3.9 mg/LSB); data registers 0x32..0x37 are little-endian int16 x, y, z. The chip has
no temperature sensor. Same interface as the MPU-6050 driver; buffers allocated once.
"""

from micropython import const

ADDR = const(0x53)  # ALT ADDRESS low; 0x1D with it high
_DEVID = const(0x00)
_BW_RATE = const(0x2C)
_POWER_CTL = const(0x2D)
_DATA_FORMAT = const(0x31)
_DATAX0 = const(0x32)
_DEVID_VALUE = const(0xE5)


def _i16le(buf, i):
    v = buf[i] | (buf[i + 1] << 8)
    return v - 65536 if v & 0x8000 else v


class ADXL345:
    lsb_per_g = 256

    def __init__(self, i2c, addr=ADDR):
        self.i2c = i2c
        self.addr = addr
        self._buf = bytearray(6)
        self._one = bytearray(1)
        i2c.readfrom_mem_into(addr, _DEVID, self._one)
        if self._one[0] != _DEVID_VALUE:
            raise OSError("no ADXL345 at 0x%02x (DEVID 0x%02x)" % (addr, self._one[0]))
        self._set(_BW_RATE, 0x09)  # 50 Hz output data rate (25 Hz bandwidth)
        self._set(_DATA_FORMAT, 0x08)  # FULL_RES, ±2 g
        self._set(_POWER_CTL, 0x08)  # Measure

    def _set(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.addr, reg, self._one)

    def read_raw_into(self, out):
        buf = self._buf
        self.i2c.readfrom_mem_into(self.addr, _DATAX0, buf)
        out[0] = _i16le(buf, 0)
        out[1] = _i16le(buf, 2)
        out[2] = _i16le(buf, 4)

    def temp_c(self):
        return None
