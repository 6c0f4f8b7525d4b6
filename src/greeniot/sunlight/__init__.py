"""Winter-solstice sunlight at a window, with the shadows of tree crowns.

- :mod:`.solar`: the sun's path on the solstice (pvlib, vectorized over the day).
- :mod:`.crowns`: which sun rays from the window pass through which crown (numpy, pure).
- :mod:`.check`: the ledger's trees near a window, the hours of direct sun, the trees whose
  pruning would restore the required hours, and the pruning tasks.
"""

from greeniot.sunlight.check import SunlightResult, Window, check_window, sunlight_hours
from greeniot.sunlight.crowns import Crowns, blocked_by_crowns, sun_directions
from greeniot.sunlight.solar import SunPath, sun_path, winter_solstice

__all__ = [
    "Crowns",
    "SunPath",
    "SunlightResult",
    "Window",
    "blocked_by_crowns",
    "check_window",
    "sun_directions",
    "sun_path",
    "sunlight_hours",
    "winter_solstice",
]
