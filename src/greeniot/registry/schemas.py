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
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

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

Id = Annotated[str, Field(pattern=f"^{ID_RE.pattern}$", examples=["estate-a"])]
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Name = Annotated[str, Field(max_length=200)]
Priority = Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX,
                                description="1 is the most urgent, 5 the least")]
Ms = Annotated[int, Field(ge=0, description="ms since the Unix epoch, UTC")]
RunS = Annotated[int, Field(ge=1, le=86_400)]

_ZONE_DEFAULTS = ZoneInfo(site="-", zone="-")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- sites ---------------------------------------------------------------------------------

def _check_tz(value: str | None) -> str | None:
    if value is not None:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as "
                             "'Asia/Shanghai')") from err
    return value


TimeZone = Annotated[str, Field(max_length=64, examples=["Asia/Shanghai"]),
                     AfterValidator(_check_tz)]


class SiteCreate(_In):
    id: Annotated[Id, Field(validation_alias=AliasChoices("id", "site"))]
    name: Name = ""
    #: The site's local time zone (the maintenance calendar's dates).
    tz: TimeZone = "UTC"


class SiteUpdate(_In):
    name: Name | None = None
    tz: TimeZone | None = None


class SitePublic(_Out):
    id: str
    name: str
    created_ms: int
    tz: str = "UTC"


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


class DeviceUpdate(_In):
    kind: DeviceKind | None = None
    tree_id: Id | None = None
    zone_id: Id | None = None
    fw: Annotated[str, Field(max_length=32)] | None = None


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
    task_id: int | None = None

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
