"""What analytics emits and actions consume: one frozen record per finding.

This is a settled contract between ``greeniot.analytics`` (producer) and ``greeniot.actions``
(consumer); change it in both at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: - ``lean``: residual lean (tilt minus the tree's baseline) over a graded threshold
#: - ``lean_step``: a sudden increase in residual lean that persists after the wind drops
#: - ``lean_trend``: a steadily increasing lean rate [deg/day]
#: - ``failure``: the tree has fallen or its root plate failed (tilt far past uprooting range)
#: - ``storm``: site-wide wind/sway event started or ended (value = gust or sway RMS)
#: - ``sway``: one tree's sway (value = RMS [deg]), with ``freq_hz`` when measured
#: - ``drought``: a zone's soil moisture below its refill point (value = VWC [%])
#: - ``waterlog``: a zone's soil moisture above its saturation threshold for long enough
#: - ``device_offline`` / ``low_battery`` / ``sensor_stuck``: device health
EventKind = Literal[
    "lean", "lean_step", "lean_trend", "failure", "storm", "sway", "drought", "waterlog",
    "device_offline", "low_battery", "sensor_stuck",
]
Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    site: str
    ts_ms: int  # event time: the device timestamp that triggered it
    severity: Severity
    value: float  # the measured quantity, in ``unit``
    threshold: float  # the threshold it was compared with, in ``unit``
    unit: str  # "deg", "deg/day", "vwc_pct", "m/s", "V", "s"
    device: str | None = None
    tree: str | None = None
    zone: str | None = None
    heritage: bool = False
    freq_hz: float | None = None
    detail: str = ""

    @property
    def subject(self) -> str:
        """What the event is about, for de-duplication: tree, else zone, else device, else site."""
        return self.tree or self.zone or self.device or self.site
