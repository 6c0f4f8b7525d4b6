"""Ground truth of a run: what really happened, for tests to check the backend against."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LeanStep:
    """A persistent lean a tree acquired: its size and its direction on the sensor's axes."""

    site: str
    tree: str
    device: str
    ts_ms: int  # when the step began (it completes over ~5 min)
    step_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True, slots=True)
class Failure:
    site: str
    tree: str
    device: str
    ts_ms: int  # when the tree went down; a precursor lean grows before it
    precursor_from_ms: int
    fallen_pitch_deg: float
    fallen_roll_deg: float


@dataclass(frozen=True, slots=True)
class Storm:
    """When the scheduled mean wind exceeded the scenario's storm threshold."""

    start_ms: int
    peak_ms: int
    end_ms: int
    peak_mean_wind_ms: float


@dataclass(slots=True)
class GroundTruth:
    scenario: str
    start_ms: int
    end_ms: int
    storm: Storm | None = None
    lean_steps: dict[str, LeanStep] = field(default_factory=dict)  # by tree id
    failures: dict[str, Failure] = field(default_factory=dict)  # by tree id
    #: zone id → device time its true moisture first fell below its refill point [ms]
    dry_zones: dict[str, int] = field(default_factory=dict)
    min_vwc_pct: dict[str, float] = field(default_factory=dict)  # zone id → lowest true VWC
    max_vwc_pct: dict[str, float] = field(default_factory=dict)
    valve_open_s: dict[str, float] = field(default_factory=dict)  # zone id → watering time
    #: zone id → device time of the end of the last simulation step that watered it [ms]
    last_watered_ms: dict[str, int] = field(default_factory=dict)

    def healthy_trees(self, trees: list[str] | tuple[str, ...]) -> list[str]:
        """The trees among ``trees`` that neither stepped nor failed."""
        return [t for t in trees if t not in self.lean_steps and t not in self.failures]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "scenario": self.scenario,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "storm": None if self.storm is None else {
                "start_ms": self.storm.start_ms, "peak_ms": self.storm.peak_ms,
                "end_ms": self.storm.end_ms, "peak_mean_wind_ms": self.storm.peak_mean_wind_ms},
            "lean_steps": {k: {"site": v.site, "device": v.device, "ts_ms": v.ts_ms,
                               "step_deg": v.step_deg} for k, v in self.lean_steps.items()},
            "failures": {k: {"site": v.site, "device": v.device, "ts_ms": v.ts_ms}
                         for k, v in self.failures.items()},
            "dry_zones": dict(self.dry_zones),
            "min_vwc_pct": {k: round(v, 2) for k, v in self.min_vwc_pct.items()},
            "valve_open_s": {k: round(v, 1) for k, v in self.valve_open_s.items()},
            "last_watered_ms": dict(self.last_watered_ms),
        }
