"""Capacitive soil-moisture probe (v1.2/v2.0 class) read through an ADC.

A capacitive probe's output voltage *falls* as the soil gets wetter. We map the averaged ADC
reading linearly between two calibration points taken on site: ``dry_raw`` (probe in air-dry
soil, or in air) and ``wet_raw`` (probe in saturated soil, or in water), and clamp to 0..100 %.
The result is a relative volumetric water content; a per-soil calibration curve would refine it,
but a two-point map is what the estate's crews can do in the field. Raw values are 16-bit
(``ADC.read_u16`` scale 0..65535) so the same calibration works on any MicroPython port.
"""


def vwc_pct_from_raw(raw, dry_raw, wet_raw):
    """Volumetric water content [%] from a raw ADC value [u16], clamped to 0..100.

    ``dry_raw`` maps to 0 %, ``wet_raw`` to 100 %. Works for either slope, so a probe whose
    output rises with moisture is calibrated the same way.
    """
    if dry_raw == wet_raw:
        raise ValueError("soil calibration: dry_raw equals wet_raw")
    pct = (dry_raw - raw) * 100.0 / (dry_raw - wet_raw)
    if pct < 0.0:
        return 0.0
    if pct > 100.0:
        return 100.0
    return pct


class SoilProbe:
    """Averages ``samples`` ADC reads (the probe's output ripples by tens of counts).

    ``adc`` is any object with ``read_u16()`` (``machine.ADC`` or the unix HAL's stand-in).
    """

    def __init__(self, adc, dry_raw, wet_raw, samples=8):
        if samples < 1:
            raise ValueError("soil samples must be >= 1")
        if dry_raw == wet_raw:
            raise ValueError("soil calibration: dry_raw equals wet_raw")
        self.adc = adc
        self.dry_raw = dry_raw
        self.wet_raw = wet_raw
        self.samples = samples

    def read_raw(self):
        """Mean of ``samples`` reads [u16], rounded to the nearest count."""
        total = 0
        for _ in range(self.samples):
            total += self.adc.read_u16()
        return (total + self.samples // 2) // self.samples

    def read(self):
        """``(vwc_pct, raw)`` from one averaged read."""
        raw = self.read_raw()
        return vwc_pct_from_raw(raw, self.dry_raw, self.wet_raw), raw
