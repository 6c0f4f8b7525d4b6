"""Simulated estates for greeniot: trees, irrigation zones and weather speaking MQTT protocol v1.

Imports nothing of greeniot but ``greeniot.protocol``. Entry points: :func:`run` (async),
:func:`run_sync` and ``python -m greeniot.simulators``.
"""

from greeniot.simulators.engine import SimOptions, Simulation
from greeniot.simulators.fleet import DeviceSpec, Fleet, SiteSpec, TreeSpec, ZoneSpec
from greeniot.simulators.runner import Progress, RunResult, run, run_sync, start_ms_for
from greeniot.simulators.scenarios import SCENARIOS, Keyframes, Scenario, get_scenario
from greeniot.simulators.truth import Failure, GroundTruth, LeanStep, Storm

__all__ = [
    "SCENARIOS",
    "DeviceSpec",
    "Failure",
    "Fleet",
    "GroundTruth",
    "Keyframes",
    "LeanStep",
    "Progress",
    "RunResult",
    "Scenario",
    "SimOptions",
    "Simulation",
    "SiteSpec",
    "Storm",
    "TreeSpec",
    "ZoneSpec",
    "get_scenario",
    "run",
    "run_sync",
    "start_ms_for",
]
