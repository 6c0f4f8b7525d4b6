"""Simulated hardware for the unix ``micropython`` binary (tests, demo).

The unix port's ``machine`` has no ADC, I2C or Pin, so this backend stands in at the *register*
level where it matters: the accelerometer is an I2C bus whose MPU-6050 / ADXL345 register files
are filled from a configured tilt (and optional sway), so the real drivers and the real tilt
math run unchanged. The soil probe is an ADC returning a configured raw value.

Inputs: ``cfg["sim"]`` overridden by ``<state_dir>/sim.json``, re-read at most every 100 ms, so
a test can change the tilt or the soil while the node runs (``FirmwareNode.set_sim``).
Outputs: ``<state_dir>/hal.json`` (valve pin, connection and outbox report), written atomically
on change, so a test can watch the valve close with no broker at all.
Deep sleep: the process exits (code 0) after writing ``<state_dir>/sleep.json``; the state dir
(outbox, seq) stays, and the harness starts the process again to "wake" it.
"""

import math
import os
import sys
import time

from lib.store import read_json, write_json

SIM_DEFAULTS = {
    "vwc_raw": 34000,  # ADC u16 the soil probe reads
    "vwc_noise": 0,  # ± counts, alternating, so averaging is exercised
    "soil_temp_c": 18.0,
    "bat_v": 3.9,
    "rssi_dbm": -60,
    "accel": "mpu6050",  # mpu6050 | adxl345 | none
    "pitch_deg": 0.0,
    "roll_deg": 0.0,
    "sway_amp_deg": 0.0,  # sinusoidal sway added to pitch
    "sway_hz": 0.5,
    "accel_temp_c": 20.0,
    "flow_l_min": 0.0,  # what the flow meter sees while the valve is open [L/min]
    "leak_l_min": 0.0,  # ... and while it is closed (a leak, a stuck valve)
}
_TWO_PI = 2.0 * math.pi
_DEG2RAD = math.pi / 180.0


def _i16(x):
    v = round(x)
    return -32768 if v < -32768 else 32767 if v > 32767 else v


class _Sim:
    """Current simulation inputs, refreshed from sim.json at most every 100 ms."""

    def __init__(self, base, path):
        self.base = base
        self.path = path
        self.values = dict(base)
        self._at = None

    def get(self):
        now = time.ticks_ms()
        if self._at is None or time.ticks_diff(now, self._at) >= 100:
            self._at = now
            values = dict(self.base)
            over = read_json(self.path, None)
            if isinstance(over, dict):
                values.update(over)
            self.values = values
        return self.values

    def gravity(self):
        """Gravity ``(gx, gy, gz)`` in g for the configured pitch/roll (+ sway at this time)."""
        s = self.get()
        pitch = s["pitch_deg"]
        if s["sway_amp_deg"]:
            pitch += s["sway_amp_deg"] * math.sin(_TWO_PI * s["sway_hz"] * time.time())
        p = pitch * _DEG2RAD
        r = s["roll_deg"] * _DEG2RAD
        return -math.sin(p), math.cos(p) * math.sin(r), math.cos(p) * math.cos(r)


class SimADC:
    """``read_u16()`` like ``machine.ADC``: the configured raw value ± alternating noise."""

    def __init__(self, sim):
        self.sim = sim
        self._sign = 1

    def read_u16(self):
        s = self.sim.get()
        self._sign = -self._sign
        v = int(s["vwc_raw"]) + self._sign * int(s["vwc_noise"])
        return 0 if v < 0 else 65535 if v > 65535 else v


class _MPU6050Regs:
    """Register file of an MPU-6050: asleep at reset, accel/temp computed on read."""

    def __init__(self, sim):
        self.sim = sim
        self.regs = bytearray(128)
        self.regs[0x6B] = 0x40  # PWR_MGMT_1 reset value: SLEEP
        self.regs[0x75] = 0x68  # WHO_AM_I

    def refresh(self):
        regs = self.regs
        if regs[0x6B] & 0x40:
            for i in range(0x3B, 0x43):
                regs[i] = 0  # asleep: the data registers do not update
            return
        lsb = 16384 >> ((regs[0x1C] >> 3) & 3)  # ACCEL_CONFIG AFS_SEL
        gx, gy, gz = self.sim.gravity()
        temp = (self.sim.get()["accel_temp_c"] - 36.53) * 340.0
        for k, v in enumerate((gx * lsb, gy * lsb, gz * lsb, temp)):
            raw = _i16(v) & 0xFFFF
            regs[0x3B + 2 * k] = raw >> 8
            regs[0x3C + 2 * k] = raw & 0xFF


class _ADXL345Regs:
    """Register file of an ADXL345: zeros until POWER_CTL Measure is set."""

    def __init__(self, sim):
        self.sim = sim
        self.regs = bytearray(64)
        self.regs[0x00] = 0xE5  # DEVID

    def refresh(self):
        regs = self.regs
        if not regs[0x2D] & 0x08:
            for i in range(0x32, 0x38):
                regs[i] = 0
            return
        fmt = regs[0x31]
        lsb = 256 if fmt & 0x08 else 256 >> (fmt & 3)  # FULL_RES keeps 3.9 mg/LSB
        for k, g in enumerate(self.sim.gravity()):
            raw = _i16(g * lsb) & 0xFFFF
            regs[0x32 + 2 * k] = raw & 0xFF
            regs[0x33 + 2 * k] = raw >> 8


class SimI2C:
    """The subset of ``machine.I2C`` the drivers use, with one simulated chip on the bus.

    The chip follows ``sim["accel"]`` live, so a test can unplug and plug it back in.
    """

    def __init__(self, sim):
        self.sim = sim
        self.devices = {}
        self._chip = None

    def _bus(self):
        chip = self.sim.get()["accel"]
        if chip != self._chip:
            self._chip = chip
            self.devices = {}
            if chip == "mpu6050":
                self.devices[0x68] = _MPU6050Regs(self.sim)
            elif chip == "adxl345":
                self.devices[0x53] = _ADXL345Regs(self.sim)
        return self.devices

    def scan(self):
        return sorted(self._bus())

    def _dev(self, addr):
        dev = self._bus().get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV, as machine.I2C raises for a missing device
        return dev

    def readfrom_mem_into(self, addr, reg, buf):
        dev = self._dev(addr)
        dev.refresh()
        n = len(buf)
        buf[:] = dev.regs[reg:reg + n]

    def writeto_mem(self, addr, reg, buf):
        dev = self._dev(addr)
        dev.regs[reg:reg + len(buf)] = buf


class SimFlowPin:
    """A flow meter's pin: ``irq(handler=...)`` like ``machine.Pin``; :meth:`UnixHal.flow_tick`
    calls the handler once per pulse the simulated meter gave since the previous call (the
    unix port has no interrupts)."""

    def __init__(self):
        self.handler = None
        self.pulses = 0  # fired so far (tests compare with the driver's count)

    def irq(self, handler=None, trigger=None):
        self.handler = handler

    def fire(self, n):
        for _ in range(n):
            self.pulses += 1
            self.handler(self)


class UnixHal:
    """Hardware abstraction for the unix port; the ESP32 twin is ``hal.esp32.Esp32Hal``."""

    name = "unix"

    def __init__(self, cfg):
        self.cfg = cfg
        self.state_dir = cfg["state_dir"]
        base = dict(SIM_DEFAULTS)
        base.update(cfg.get("sim") or {})
        self.sim = _Sim(base, self.state_dir + "/sim.json")
        self._out_path = self.state_dir + "/hal.json"
        self._out = {"valve_open": False}
        self._i2c = None
        self.time = time
        self.scale = cfg.get("time_scale", 1.0)
        if self.scale != 1:
            from hal.scaled import install

            self.time = install(cfg)  # what the node imports from now on runs on it
        sleep_path = self.state_dir + "/sleep.json"
        self.woke_from_sleep = read_json(sleep_path) is not None
        if self.woke_from_sleep:
            os.remove(sleep_path)

    # -- time -------------------------------------------------------------------------------
    def clock_ms(self):
        """UTC wall clock [ms since the Unix epoch] (scaled with ``time_scale``)."""
        return self.time.time_ns() // 1_000_000

    def clock_valid(self):
        return True

    # -- sensors ----------------------------------------------------------------------------
    def soil_adc(self):
        return SimADC(self.sim)

    def probe_power(self, on):
        pass

    def soil_temp_c(self):
        return self.sim.get()["soil_temp_c"]

    def i2c(self):
        if self._i2c is None:
            self._i2c = SimI2C(self.sim)
        return self._i2c

    def battery_v(self):
        return self.sim.get()["bat_v"]

    # -- valve ------------------------------------------------------------------------------
    def valve(self, is_open):
        """Drive the valve output; the unix backend records it in hal.json."""
        self.report(valve_open=bool(is_open), valve_ms=self.clock_ms())

    # -- flow meter -------------------------------------------------------------------------
    def flow_pin(self):
        if getattr(self, "_flow_pin", None) is None:
            self._flow_pin = SimFlowPin()
            self._flow_at = self.time.ticks_ms()
            self._flow_frac = 0.0
        return self._flow_pin

    def flow_trigger(self):
        return None

    def irq_guards(self):
        """``(disable_irq, enable_irq)``: none on the unix port."""
        return None, None

    def flow_tick(self):
        """Fire the pulses the simulated meter gave since the last call: sim ``flow_l_min``
        while the valve is open, ``leak_l_min`` while closed, times ``flow_k_per_l``."""
        pin = getattr(self, "_flow_pin", None)
        if pin is None or pin.handler is None:
            return
        now = self.time.ticks_ms()
        dt_ms = time.ticks_diff(now, self._flow_at)
        self._flow_at = now
        s = self.sim.get()
        lpm = s["flow_l_min"] if self._out.get("valve_open") else s["leak_l_min"]
        self._flow_frac += lpm * self.cfg["flow_k_per_l"] * dt_ms / 60000.0
        n = int(self._flow_frac)
        self._flow_frac -= n
        pin.fire(n)

    # -- network and power ------------------------------------------------------------------
    def net_up(self, timeout_ms=0):
        return True

    def rssi_dbm(self):
        return self.sim.get()["rssi_dbm"]

    def feed(self):
        pass

    def deep_sleep(self, ms):
        """End the process as deep sleep ends a real node: state dir kept, RAM lost."""
        write_json(self.state_dir + "/sleep.json", {"sleep_ms": int(ms), "at_ms": self.clock_ms()})
        sys.exit(0)

    # -- observability ----------------------------------------------------------------------
    def report(self, **values):
        """Merge ``values`` into hal.json if anything changed (tests watch this file)."""
        changed = False
        for key in values:
            if self._out.get(key) != values[key]:
                self._out[key] = values[key]
                changed = True
        if changed:
            write_json(self._out_path, self._out)

    def ready(self):
        """Tell the harness that boot finished (valve closed, state loaded)."""
        write_json(self.state_dir + "/ready.json", {"boot_ms": self.clock_ms()})
