"""Irrigation physics: FAO-56 reference ET, soil limits, probe calibration, the daily root-zone
water balance, and the pure watering decision with its lockouts (docs/irrigation.md)."""
