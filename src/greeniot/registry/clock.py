"""The registry's default clock: the project's wall clock (see :mod:`greeniot.clock`)."""

from __future__ import annotations

from greeniot.clock import wall_ms as wall_clock_ms

__all__ = ["wall_clock_ms"]
