"""Pydantic models at the registry's edges: Create / Update / Public per object.

``*Create`` validate what enters (API bodies, seed dicts), ``*Update`` are partial (only the
fields sent are changed; ``null`` clears an optional field), ``*Public`` are what the API
returns (read from ORM rows). Ids follow the protocol's id rule so that a ledger id is always a
valid MQTT topic level. Create models also accept the names used by
:mod:`greeniot.estate` (``tree``/``zone``/``device``) so that the fleet description
of the simulators seeds the registry as it is.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from greeniot.calibration import CalibrationSpec
from greeniot.estate import DeviceKind, ZoneInfo
from greeniot.protocol.topics import ID_RE
from greeniot.registry.vocab import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    AlarmState,
    CommandState,
    CrownShape,
    DeviceStatus,
    EvidenceKind,
    Severity,
    TaskKind,
    TaskState,
    ValveOp,
    ValveState,
)
from greeniot.soils import TEXTURES

Id = Annotated[str, Field(pattern=f"^{ID_RE.pattern}$", examples=["estate-a"])]
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Name = Annotated[str, Field(max_length=200)]
Priority = Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX,
                                description="1 is the most urgent, 5 the least")]
#: The largest value an SQL BIGINT (and SQLite INTEGER) holds.
SQL_INT_MAX = 2**63 - 1
Ms = Annotated[int, Field(ge=0, le=SQL_INT_MAX, description="ms since the Unix epoch, UTC")]
RunS = Annotated[int, Field(ge=1, le=86_400)]

_ZONE_DEFAULTS = ZoneInfo(site="-", zone="-")

# --- irrigation field types (docs/irrigation.md) -----------------------------------------
Theta = Annotated[float, Field(ge=0, le=1, description="volumetric water content [m3/m3]")]


def _known_texture(name: str) -> str:
    if name not in TEXTURES:
        raise ValueError(f"unknown soil texture {name!r}; valid: {', '.join(TEXTURES)}")
    return name


Texture = Annotated[str, AfterValidator(_known_texture),
                    Field(description="FAO-56 Table 19 texture class", examples=["loam"])]
IrrigationKind = Literal["drip", "bubbler", "rotor", "spray"]
Kc = Annotated[float, Field(gt=0, le=2, description="crop coefficient [-] (FAO-56 ch. 6)")]
RootDepthM = Annotated[float, Field(gt=0, le=5, description="root depth Zr [m]")]
MadP = Annotated[float, Field(gt=0, lt=1, description="management-allowed depletion p [-]")]
RateMmH = Annotated[float, Field(gt=0, le=500, description="application rate [mm/h]")]
Efficiency = Annotated[float, Field(gt=0, le=1, description="application efficiency [-]")]
AreaM2 = Annotated[float, Field(gt=0, le=1e7, description="zone area [m2]")]
SoakS = Annotated[int, Field(ge=0, le=86_400, description="soak between cycles [s]")]
BudgetL = Annotated[float, Field(ge=0, le=1e8, description="water per rolling 24 h [l]")]
TargetDrMm = Annotated[float, Field(ge=0, le=1000, description="depletion to refill to [mm]")]
KcMonthly = Annotated[list[Kc], Field(min_length=12, max_length=12,
                                      description="Kc for January..December")]


class ProbeCalibration(BaseModel):
    """How a soil probe's two-point index becomes θ [m3/m3] (see ``CalibrationSpec``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["two_point", "poly", "soil"]
    points: tuple[tuple[float, Theta], tuple[float, Theta]] | None = None
    coef: Annotated[list[float], Field(min_length=1, max_length=4)] | None = None
    texture: Texture | None = None

    @model_validator(mode="after")
    def _complete(self) -> ProbeCalibration:
        self.spec().coefficients()  # raises a ValueError naming what is missing
        return self

    def spec(self, zone_texture: str | None = None) -> CalibrationSpec:
        return CalibrationSpec(self.kind, points=self.points,
                               coef=None if self.coef is None else tuple(self.coef),
                               texture=self.texture or zone_texture
                               or ("loam" if self.kind == "soil" else None))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- sites ---------------------------------------------------------------------------------

def _check_tz(value: str | None) -> str | None:
    if value is not None:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as err:  # a folder
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "'Asia/Shanghai')") from err
    return value


TimeZone = Annotated[str, Field(max_length=64, examples=["Asia/Shanghai"]),
                     AfterValidator(_check_tz)]
Lat = Annotated[float, Field(ge=-90, le=90, description="latitude [degrees north]")]
ElevationM = Annotated[float, Field(ge=-500, le=9000, description="elevation [m]")]


class SiteCreate(_In):
    id: Annotated[Id, Field(validation_alias=AliasChoices("id", "site"))]
    name: Name = ""
    #: The site's local time zone (the maintenance calendar's dates).
    tz: TimeZone = "UTC"
    lat_deg: Lat | None = None
    elevation_m: ElevationM | None = None


class SiteUpdate(_In):
    name: Name | None = None
    tz: TimeZone | None = None
    lat_deg: Lat | None = None
    elevation_m: ElevationM | None = None


class SitePublic(_Out):
    id: str
    name: str
    created_ms: int
    tz: str = "UTC"
    lat_deg: float | None = None
    elevation_m: float | None = None


# --- zones ---------------------------------------------------------------------------------

class _ZoneFields(_In):
    name: Name = ""
    refill_vwc_pct: Annotated[float, Field(ge=0, le=100)] = _ZONE_DEFAULTS.refill_vwc_pct
    saturation_vwc_pct: Annotated[float, Field(ge=0, le=100)] = _ZONE_DEFAULTS.saturation_vwc_pct
    waterlog_hours: Annotated[float, Field(gt=0, le=24 * 30)] = _ZONE_DEFAULTS.waterlog_hours
    valve_device: Id | None = None
    max_run_s: RunS = _ZONE_DEFAULTS.max_run_s
    min_interval_s: Annotated[int, Field(ge=0, le=7 * 86_400)] = _ZONE_DEFAULTS.min_interval_s
    daily_max_s: Annotated[int, Field(ge=0, le=86_400)] = _ZONE_DEFAULTS.daily_max_s
    rain_forecast_mm: Annotated[float, Field(ge=0, le=2000)] | None = None
    irrigation_kind: IrrigationKind | None = None
    soil_texture: Texture | None = None
    theta_fc: Theta | None = None
    theta_wp: Theta | None = None
    root_depth_m: RootDepthM = 0.3
    kc: Kc = 0.8
    kc_monthly: KcMonthly | None = None
    mad_p: MadP = 0.5
    application_rate_mm_h: RateMmH | None = None
    efficiency: Efficiency = 0.8
    area_m2: AreaM2 | None = None
    soak_s: SoakS = 1800
    water_budget_l_day: BudgetL | None = None
    target_dr_mm: TargetDrMm = 0.0


class ZoneCreate(_ZoneFields):
    site: Id
    id: Annotated[Id, Field(validation_alias=AliasChoices("id", "zone"))]

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> ZoneCreate:
        if self.saturation_vwc_pct <= self.refill_vwc_pct:
            raise ValueError(
                f"saturation_vwc_pct ({self.saturation_vwc_pct}) must be above "
                f"refill_vwc_pct ({self.refill_vwc_pct})"
            )
        if (self.theta_fc is not None and self.theta_wp is not None
                and self.theta_wp >= self.theta_fc):
            raise ValueError(f"theta_wp ({self.theta_wp}) must be below theta_fc "
                             f"({self.theta_fc})")
        return self


class ZoneUpdate(_In):
    name: Name | None = None
    refill_vwc_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    saturation_vwc_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    waterlog_hours: Annotated[float, Field(gt=0, le=24 * 30)] | None = None
    valve_device: Id | None = None
    max_run_s: RunS | None = None
    min_interval_s: Annotated[int, Field(ge=0, le=7 * 86_400)] | None = None
    daily_max_s: Annotated[int, Field(ge=0, le=86_400)] | None = None
    rain_forecast_mm: Annotated[float, Field(ge=0, le=2000)] | None = None
    irrigation_kind: IrrigationKind | None = None
    soil_texture: Texture | None = None
    theta_fc: Theta | None = None
    theta_wp: Theta | None = None
    root_depth_m: RootDepthM | None = None
    kc: Kc | None = None
    kc_monthly: KcMonthly | None = None
    mad_p: MadP | None = None
    application_rate_mm_h: RateMmH | None = None
    efficiency: Efficiency | None = None
    area_m2: AreaM2 | None = None
    soak_s: SoakS | None = None
    water_budget_l_day: BudgetL | None = None
    target_dr_mm: TargetDrMm | None = None


class ZonePublic(_Out):
    site: str
    id: str
    name: str
    refill_vwc_pct: float
    saturation_vwc_pct: float
    waterlog_hours: float
    valve_device: str | None
    max_run_s: int
    min_interval_s: int
    daily_max_s: int
    rain_forecast_mm: float | None
    irrigation_kind: str | None = None
    soil_texture: str | None = None
    theta_fc: float | None = None
    theta_wp: float | None = None
    root_depth_m: float = 0.3
    kc: float = 0.8
    kc_monthly: list[float] | None = None
    mad_p: float = 0.5
    application_rate_mm_h: float | None = None
    efficiency: float = 0.8
    area_m2: float | None = None
    soak_s: int = 1800
    water_budget_l_day: float | None = None
    target_dr_mm: float = 0.0


# --- trees (the ledger) ----------------------------------------------------------------------

class TreeUpdate(_In):
    species: Name | None = None
    height_m: Annotated[float, Field(ge=0, le=150)] | None = None
    dbh_cm: Annotated[float, Field(ge=0, le=2000)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    heritage: bool | None = None
    heritage_name: Name | None = None
    planted_year: Annotated[int, Field(ge=-5000, le=3000)] | None = None
    notes: str | None = None
    crown_radius_m: Annotated[float, Field(gt=0, le=60)] | None = None
    crown_base_m: Annotated[float, Field(ge=0, le=150)] | None = None
    crown_shape: CrownShape | None = None


class TreeCreate(TreeUpdate):
    site: Id
    id: Annotated[Id, Field(validation_alias=AliasChoices("id", "tree"))]
    heritage: bool = False
    notes: str = ""


class TreePublic(_Out):
    site: str
    id: str
    species: str | None
    height_m: float | None
    dbh_cm: float | None
    lat: float | None
    lon: float | None
    heritage: bool
    heritage_name: str | None
    planted_year: int | None
    notes: str
    created_ms: int
    updated_ms: int
    crown_radius_m: float | None = None
    crown_base_m: float | None = None
    crown_shape: CrownShape | None = None
    retired_ms: int | None = None
    retired_reason: str | None = None
    retired_note: str | None = None
    successor_id: str | None = None
    predecessor_id: str | None = None


# --- devices -------------------------------------------------------------------------------

class DeviceCreate(_In):
    site: Id
    id: Annotated[Id, Field(validation_alias=AliasChoices("id", "device"))]
    kind: DeviceKind
    tree_id: Annotated[Id | None, Field(validation_alias=AliasChoices("tree_id", "tree"))] = None
    zone_id: Annotated[Id | None, Field(validation_alias=AliasChoices("zone_id", "zone"))] = None
    fw: Annotated[str, Field(max_length=32)] | None = None
    calibration: ProbeCalibration | None = None
    probe_weight: Annotated[float, Field(ge=0, le=1)] = 1.0
    probe_faulty: bool = False


class DeviceUpdate(_In):
    kind: DeviceKind | None = None
    tree_id: Id | None = None
    zone_id: Id | None = None
    fw: Annotated[str, Field(max_length=32)] | None = None
    calibration: ProbeCalibration | None = None
    probe_weight: Annotated[float, Field(ge=0, le=1)] | None = None
    probe_faulty: bool | None = None


class DevicePublic(_Out):
    site: str
    id: str
    kind: str
    tree_id: str | None
    zone_id: str | None
    fw: str | None
    last_seen_ms: int | None
    status: DeviceStatus
    bat_v: float | None
    created_ms: int
    calibration: dict[str, Any] | None = None
    probe_weight: float = 1.0
    probe_faulty: bool = False


# --- tasks ---------------------------------------------------------------------------------

class Evidence(_In):
    """One piece of close-out evidence: a text, a link, or a photo reference."""

    kind: EvidenceKind
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=2000)]
    ts_ms: Ms | None = None


class TaskCreate(_In):
    site: Id
    kind: TaskKind
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200)]
    priority: Priority = 3
    reason: str = ""
    tree: Id | None = None
    zone: Id | None = None
    device: Id | None = None
    #: None: taken from the tree ledger (a heritage tree's task is handled first).
    heritage: bool | None = None
    due_ms: Ms | None = None
    dedup_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    source_event: dict[str, Any] | None = None


class TaskHistoryPublic(_Out):
    ts_ms: int
    by: str
    from_state: TaskState | None
    to_state: TaskState
    note: str


class TaskPublic(_Out):
    id: int
    site: str
    kind: TaskKind
    priority: int
    heritage: bool
    tree: str | None
    zone: str | None
    device: str | None
    title: str
    reason: str
    state: TaskState
    owner: str | None
    assignee: str | None
    contractor: str | None = None
    created_by: str
    created_ms: int
    ack_ms: int | None
    assigned_ms: int | None
    started_ms: int | None
    closed_ms: int | None
    due_ms: int | None
    updated_ms: int
    close_note: str | None
    evidence: list[Evidence]
    dedup_key: str | None
    source_event: dict[str, Any] | None
    work_key: str | None = None
    #: Who holds the task now along the site's responsibility chain.
    responsible: str | None = None
    escalation_level: int = 0
    escalated_ms: int | None = None


class TaskDetail(TaskPublic):
    history: list[TaskHistoryPublic]


class TaskStep(_In):
    """Body of acknowledge / start: who does it, and an optional note."""

    by: Person
    note: str = ""


class TaskAssign(_In):
    by: Person
    #: The first responsible person, accountable for the task until close-out.
    owner: Person
    #: Who does the work (a crew or contractor); defaults to the owner.
    assignee: Person | None = None
    note: str = ""


class TaskClose(_In):
    by: Person
    note: str = Field(description="required: what was done")
    evidence: list[Evidence] = Field(default_factory=list, max_length=50)


class TaskCancel(_In):
    by: Person
    note: str = Field(description="required: why the task is cancelled")


# --- alerts --------------------------------------------------------------------------------

class AlertPublic(_Out):
    id: str
    site: str
    ts_ms: int
    last_ts_ms: int
    count: int
    kind: str
    severity: Severity
    message: str
    value: float | None
    device: str | None
    tree: str | None
    zone: str | None
    task_id: int | None
    acknowledged: bool
    ack_by: str | None
    ack_ms: int | None
    dedup_key: str | None
    created_ms: int
    state: AlarmState = "active"
    cleared_ms: int | None = None
    cleared_by: str | None = None
    clear_note: str | None = None


class AlertAck(_In):
    by: Person
    note: str = ""


# --- valve commands ------------------------------------------------------------------------

class CommandRequest(_In):
    op: ValveOp
    max_run_s: RunS | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=500)]
    zone: Id | None = None
    task_id: Annotated[int, Field(ge=1, le=SQL_INT_MAX)] | None = None

    @model_validator(mode="after")
    def _open_needs_max_run(self) -> CommandRequest:
        if self.op == "open" and self.max_run_s is None:
            raise ValueError("op 'open' requires max_run_s (the node closes the valve after it)")
        return self


class CommandPublic(_Out):
    id: str
    site: str
    device: str
    zone: str | None
    op: ValveOp
    max_run_s: int | None
    reason: str
    task_id: int | None
    created_ms: int
    deadline_ms: int
    state: CommandState
    sent_ms: int | None
    ack_ms: int | None
    ack_reason: str | None
    valve_state: ValveState | None
