"""ESP32 hardware: ADC soil probe, I2C accelerometer, valve output, Wi-Fi, RTC, deep sleep.

Same interface as ``hal.unix.UnixHal``; only this file touches ``machine`` and ``network``.
Not testable on the unix port (no ``machine.ADC``/``I2C``/``Pin`` there); the API used is
MicroPython's esp32 port: ``ADC(Pin, atten=ADC.ATTN_11DB)`` (0..~3.1 V) with ``read_u16`` and
``read_uv``, ``I2C(0, scl=Pin, sda=Pin, freq)``, ``deepsleep(ms)``, ``reset_cause()``,
``network.WLAN(STA_IF).status("rssi")`` and ``ntptime.settime()``. Pin numbers come from
``cfg["pins"]``; README.md shows the wiring.

Boot order matters for a valve: ``__init__`` drives the valve output *closed* before anything
else (Wi-Fi can take seconds), then ``app.valve`` reports the boot close.
"""

import time

import machine
import network

# Since MicroPython 1.22 the esp32 port counts time.time() from 1970; older builds from 2000.
_EPOCH_OFFSET_MS = 946684800000 if time.gmtime(0)[0] == 2000 else 0
_CLOCK_MIN_MS = 1704067200000  # 2024-01-01: anything earlier means the RTC was never set


class Esp32Hal:
    name = "esp32"

    def __init__(self, cfg):
        self.cfg = cfg
        pins = cfg["pins"]
        self.state_dir = cfg["state_dir"]
        self._active_high = cfg["valve_active_high"]
        self._valve = machine.Pin(pins["valve"], machine.Pin.OUT,
                                  value=0 if self._active_high else 1)
        self._probe_power = None
        if pins.get("probe_power") is not None:
            self._probe_power = machine.Pin(pins["probe_power"], machine.Pin.OUT, value=0)
        self._soil_pin = pins["soil_adc"]
        self._bat_adc = None
        if pins.get("bat_adc") is not None:
            self._bat_adc = machine.ADC(machine.Pin(pins["bat_adc"]), atten=machine.ADC.ATTN_11DB)
        self._i2c = None
        self._wlan = network.WLAN(network.STA_IF)
        self.woke_from_sleep = machine.reset_cause() == machine.DEEPSLEEP_RESET
        self._wdt = machine.WDT(timeout=int(cfg["wdt_s"] * 1000)) if cfg["wdt_s"] else None

    # -- time -------------------------------------------------------------------------------
    def clock_ms(self):
        """UTC wall clock [ms since the Unix epoch] from the RTC (kept across deep sleep)."""
        return time.time_ns() // 1_000_000 + _EPOCH_OFFSET_MS

    def clock_valid(self):
        return self.clock_ms() >= _CLOCK_MIN_MS

    def sync_clock(self):
        """Set the RTC from NTP once the network is up (only when it looks unset)."""
        if self.clock_valid():
            return True
        try:
            import ntptime

            ntptime.settime()
        except (OSError, ImportError):
            return False
        return self.clock_valid()

    # -- sensors ----------------------------------------------------------------------------
    def soil_adc(self):
        return machine.ADC(machine.Pin(self._soil_pin), atten=machine.ADC.ATTN_11DB)

    def probe_power(self, on):
        """Power the probe only while measuring (less corrosion, less battery)."""
        if self._probe_power is not None:
            self._probe_power.value(1 if on else 0)

    def soil_temp_c(self):
        return None  # no soil temperature sensor on the reference board

    def i2c(self):
        if self._i2c is None:
            pins = self.cfg["pins"]
            self._i2c = machine.I2C(0, scl=machine.Pin(pins["i2c_scl"]),
                                    sda=machine.Pin(pins["i2c_sda"]), freq=400000)
        return self._i2c

    def battery_v(self):
        if self._bat_adc is None:
            return None
        return self._bat_adc.read_uv() * self.cfg["bat_divider"] / 1_000_000

    # -- valve ------------------------------------------------------------------------------
    def valve(self, is_open):
        level = bool(is_open) == bool(self._active_high)
        self._valve.value(1 if level else 0)

    # -- flow meter -------------------------------------------------------------------------
    def flow_pin(self):
        """The meter's open-collector output: input with pull-up, counted on falling edges
        (``drivers.flow.PulseCounter`` sets the IRQ)."""
        return machine.Pin(self.cfg["pins"]["flow"], machine.Pin.IN, machine.Pin.PULL_UP)

    def flow_trigger(self):
        return machine.Pin.IRQ_FALLING

    def irq_guards(self):
        return machine.disable_irq, machine.enable_irq

    def flow_tick(self):
        pass  # real interrupts count the pulses

    # -- network and power ------------------------------------------------------------------
    def net_up(self, timeout_ms=15000):
        """Join Wi-Fi (bounded wait); set the clock from NTP the first time."""
        wlan = self._wlan
        if not wlan.active():
            wlan.active(True)
        if not wlan.isconnected():
            if not self.cfg["wifi_ssid"]:
                return False
            wlan.connect(self.cfg["wifi_ssid"], self.cfg["wifi_password"])
            t0 = time.ticks_ms()
            while not wlan.isconnected():
                if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                    return False
                self.feed()
                time.sleep_ms(100)
        self.sync_clock()
        return True

    def rssi_dbm(self):
        try:
            return self._wlan.status("rssi")
        except (OSError, ValueError):
            return None

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def deep_sleep(self, ms):
        """Close the valve output, drop Wi-Fi and sleep; the node reboots into main.py."""
        self.valve(False)
        self.probe_power(False)
        self._wlan.active(False)
        machine.deepsleep(int(ms))

    def report(self, **values):
        pass  # nothing to mirror on a real node; logs go to the serial console

    def ready(self):
        pass
