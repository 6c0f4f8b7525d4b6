"""Soil node logic: one averaged, calibrated probe reading per wake-up."""

import time

from drivers.soil import SoilProbe
from lib import proto


class SoilApp:
    kind = "soil"
    channel = "soil"

    def __init__(self, hal, cfg, log):
        self.hal = hal
        self.log = log
        self.settle_ms = cfg["probe_settle_ms"]
        self.probe = SoilProbe(hal.soil_adc(), cfg["soil_dry_raw"], cfg["soil_wet_raw"],
                               cfg["soil_samples"])

    def measure(self, next_seq):
        """Power the probe, let it settle, read; yield the encoded ``SoilReading``."""
        hal = self.hal
        ts_ms = hal.clock_ms()
        hal.probe_power(True)
        try:
            if self.settle_ms:
                time.sleep_ms(self.settle_ms)
            vwc_pct, raw = self.probe.read()
        finally:
            hal.probe_power(False)
        self.log.debug("soil raw=%d vwc=%.1f%%", raw, vwc_pct)
        yield proto.soil(next_seq(), ts_ms, vwc_pct, raw=raw, temp_c=hal.soil_temp_c(),
                          bat_v=hal.battery_v())
