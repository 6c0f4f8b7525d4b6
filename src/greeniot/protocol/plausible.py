"""Plausible ranges per device kind and sensor, tighter than the schema's hard limits. Pure.

The schema (:mod:`greeniot.protocol.messages`) refuses what no device could ever send (a
battery above 15 V, moisture above 100 %). Within it, some values are still impossible for *the
device that sent them*: 9.99 V from a node powered by one Li-ion cell, 85 % volumetric water
in mineral soil. Such readings are not refused (the payload is well formed and the rest of it
may be good): ingest stores them with a quality flag and analytics leaves the value out and
raises an ``out_of_range`` fault for the device.

This table lives in the protocol package because both ingest (the flag) and analytics (the
exclusion) read it, and they must not import each other.

Ranges and their sources
------------------------
- ``bat_v`` by chemistry: one Li-ion cell is full at 4.20 V (4.35 V for high-voltage cells) and
  is cut off at 2.5–3.0 V [BU409]; a 12 V lead-acid battery (the weather station's, solar
  charged) reads 10.5 V empty and at most about 14.8 V while being charged, 15 V while
  equalised [BU403]. A sensor or valve node runs on one Li-ion cell, a weather station on 12 V
  lead-acid (docs/protocol.md).
- ``vwc_pct`` is the firmware's two-point index (0 = probe in air, 100 = probe in water;
  docs/protocol.md), not volumetric water content: every value up to 100 is a reading a probe
  honestly gives (a clay at field capacity reads ~80, a probe in a flooded bed 100), so only
  the dry end is implausible. Exactly 0 (below 0.5) is the rail of an open capacitive probe,
  not dry soil: air-dry soil keeps a few percent of water [NRCS-BD]. (Volumetric water
  content, after calibration, cannot exceed the soil's porosity, 30–60 % in mineral soils
  [NRCS-BD]: that check belongs to θ, :mod:`greeniot.calibration`.) A probe shorted at the
  wet rail repeats one value, which the stuck-sensor check names.
- ``temp_c``: the operating range of the node's parts, −40…+85 °C (MPU-6050 class MEMS
  [MPU6050], ESP32 [ESP32]); a reading outside is a failed sensor, not weather.
- Tilt angles have no range beyond the schema's ±90°: a fallen trunk reads anything up to
  90°, and that is the failure detector's business, not a sensor fault.

References
----------
[BU409] Battery University, "BU-409: Charging Lithium-ion",
    https://batteryuniversity.com/article/bu-409-charging-lithium-ion
[BU403] Battery University, "BU-403: Charging Lead Acid",
    https://batteryuniversity.com/article/bu-403-charging-lead-acid
[NRCS-BD] USDA NRCS, "Soil Bulk Density/Moisture/Aeration", Soil Quality Kit guide,
    https://www.nrcs.usda.gov/sites/default/files/2022-10/Soil%20Bulk%20Density%20Moisture%20Aeration.pdf
[MPU6050] InvenSense, "MPU-6000 and MPU-6050 Product Specification" rev. 3.4, §6.1
    (operating temperature −40…+85 °C).
[ESP32] Espressif, "ESP32 Series Datasheet", §5.1 (operating ambient temperature −40…85 °C).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel

from greeniot.protocol.channels import channel_of

Range = tuple[float, float]

#: Battery voltage range per chemistry [V].
BATTERY_RANGE_V: Mapping[str, Range] = MappingProxyType({
    "li_ion_1s": (2.5, 4.35),
    "lead_acid_12v": (10.5, 15.0),
})
#: The chemistry each channel's device runs on.
CHEMISTRY: Mapping[str, str] = MappingProxyType({
    "soil": "li_ion_1s", "tilt": "li_ion_1s", "valve": "li_ion_1s", "status": "li_ion_1s",
    "weather": "lead_acid_12v",
})
#: Plausible range of other fields per channel, in the field's unit.
FIELD_RANGE: Mapping[str, Mapping[str, Range]] = MappingProxyType({
    "soil": MappingProxyType({"vwc_pct": (0.5, 100.0), "temp_c": (-40.0, 85.0)}),
    "tilt": MappingProxyType({"temp_c": (-40.0, 85.0)}),
    "weather": MappingProxyType({"air_temp_c": (-40.0, 85.0)}),
})


def ranges(channel: str) -> Mapping[str, Range]:
    """Every plausible range of one channel's fields (battery included)."""
    out = dict(FIELD_RANGE.get(channel, {}))
    chem = CHEMISTRY.get(channel)
    if chem is not None and channel != "status":
        out["bat_v"] = BATTERY_RANGE_V[chem]
    return out


def implausible(msg: BaseModel) -> tuple[str, ...]:
    """The fields of a decoded reading outside their plausible range (empty if none)."""
    try:
        name = channel_of(msg).name
    except KeyError:
        return ()
    bad = []
    for field, (lo, hi) in ranges(name).items():
        v = getattr(msg, field, None)
        if isinstance(v, int | float) and not lo <= v <= hi:
            bad.append(field)
    return tuple(bad)


def quality_flag(fields: tuple[str, ...]) -> str | None:
    """The value of the ``quality`` field stored with a reading: ``implausible:bat_v,...``."""
    return f"implausible:{','.join(fields)}" if fields else None
