"""Analytics events, crew tasks, alerts and tree risk as InfluxDB line protocol. Pure.

Readings are not the only thing operators chart: Grafana draws storm periods and alerts as
annotations, the lean of each tree against its baseline with its threshold bands, and a map of
trees coloured by risk from these measurements (deploy/grafana/generate.py):

======== ================================================ =====================================
measure  tags                                             fields
======== ================================================ =====================================
events   site, kind, severity, phase, subject,            value, threshold, duration_s, unit,
         [tree, zone, device]                             text
tasks    site, kind, subject, [tree, zone, device]        id, priority, heritage, title, text
alerts   site, kind, severity, subject, [tree, zone,      id, value, text
         device]
tree_risk site, tree, device, heritage                    lean_deg, lean_watch_deg,
                                                          lean_warning_deg, lean_critical_deg,
                                                          risk_level, lean_level, step_level,
                                                          trend_level, failure_level, lat, lon
irrigation_decisions site, zone, outcome, rule            id, water, et0_mm, etc_mm, dr_mm,
                                                          raw_mm, taw_mm, rain_observed_mm,
                                                          rain_forecast_mm, net_mm, gross_mm,
                                                          run_s, cycles, lockouts, text
======== ================================================ =====================================

Field types are fixed here (a float stays a float) so no write meets a field-type conflict.
Times are event time [ms UTC]: an event is charted when it happened on the devices' clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Protocol

from greeniot.store.lineproto import FieldType, escape_tag, field_text

SCHEMA: dict[str, dict[str, FieldType]] = {
    "events": {"value": "float", "threshold": "float", "duration_s": "float", "unit": "str",
               "text": "str"},
    "tasks": {"id": "int", "priority": "int", "heritage": "bool", "title": "str",
              "text": "str"},
    "alerts": {"id": "str", "value": "float", "text": "str"},
    "tree_risk": {"lean_deg": "float", "lean_watch_deg": "float", "lean_warning_deg": "float",
                  "lean_critical_deg": "float", "risk_level": "int", "lean_level": "int",
                  "step_level": "int", "trend_level": "int", "failure_level": "int",
                  "lat": "float", "lon": "float"},
    "irrigation_decisions": {"id": "int", "water": "bool", "et0_mm": "float",
                             "etc_mm": "float", "dr_mm": "float", "raw_mm": "float",
                             "taw_mm": "float", "rain_observed_mm": "float",
                             "rain_forecast_mm": "float", "net_mm": "float",
                             "gross_mm": "float", "run_s": "int", "cycles": "int",
                             "lockouts": "str", "text": "str"},
}
MEASUREMENTS = tuple(SCHEMA)


def point(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, object],
          ts_ms: int) -> str:
    """One line; ``None`` tags and ``None``/NaN fields are left out (a line keeps ≥ 1 field)."""
    types = SCHEMA[measurement]
    tag_s = "".join(f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    body = ",".join(
        f"{k}={field_text(v, types[k])}" for k, v in fields.items()
        if v is not None and not (isinstance(v, float) and math.isnan(v)))
    if not body:
        raise ValueError(f"{measurement} point at {ts_ms} has no field")
    return f"{measurement}{tag_s} {body} {int(ts_ms)}"


class EventLike(Protocol):
    """What :class:`greeniot.analytics.contract.Event` offers (this layer imports no analytics)."""

    @property
    def kind(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def severity(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def duration_s(self) -> float | None: ...
    @property
    def tree(self) -> str | None: ...
    @property
    def zone(self) -> str | None: ...
    @property
    def device(self) -> str | None: ...


class DecisionLike(Protocol):
    """What :class:`greeniot.actions.plan.Task` and ``Alert`` share."""

    @property
    def kind(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def tree(self) -> str | None: ...
    @property
    def zone(self) -> str | None: ...
    @property
    def device(self) -> str | None: ...


class TaskLike(DecisionLike, Protocol):
    @property
    def title(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def heritage(self) -> bool: ...


class AlertLike(DecisionLike, Protocol):
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def value(self) -> float | None: ...


def _where(obj: DecisionLike | EventLike) -> dict[str, str | None]:
    return {"tree": obj.tree, "zone": obj.zone, "device": obj.device,
            "subject": obj.tree or obj.zone or obj.device or obj.site}


def event_lines(events: Iterable[EventLike]) -> list[str]:
    """Analytics events → ``events`` lines (one per event, at its event time)."""
    out = []
    for e in events:
        where = _where(e)
        text = (f"{e.kind} {e.phase} {where['subject']}: {e.value:.3g} {e.unit} vs "
                f"{e.threshold:.3g} ({e.severity})")
        out.append(point("events", {"site": e.site, "kind": e.kind, "severity": e.severity,
                                    "phase": e.phase, **where},
                         {"value": float(e.value), "threshold": float(e.threshold),
                          "duration_s": e.duration_s, "unit": e.unit, "text": text}, e.ts_ms))
    return out


def task_line(task: TaskLike, task_id: int) -> str:
    """A new crew task → one ``tasks`` line."""
    return point("tasks", {"site": task.site, "kind": task.kind, **_where(task)},
                 {"id": task_id, "priority": task.priority, "heritage": bool(task.heritage),
                  "title": task.title, "text": f"task #{task_id} p{task.priority}: {task.title}"},
                 task.ts_ms)


def alert_line(alert: AlertLike, alert_id: str) -> str:
    """A new or escalated alert → one ``alerts`` line."""
    return point("alerts", {"site": alert.site, "kind": alert.kind, "severity": alert.severity,
                            **_where(alert)},
                 {"id": alert_id, "value": alert.value,
                  "text": f"alert {alert_id} {alert.severity}: {alert.message}"}, alert.ts_ms)


def tree_risk_lines(ts_ms: int, rows: Iterable[Mapping[str, object]]) -> list[str]:
    """One ``tree_risk`` line per tree: ``rows`` carry the tags ``site``, ``tree``, ``device``,
    ``heritage`` (bool) and any of the ``tree_risk`` fields."""
    out = []
    fields = SCHEMA["tree_risk"]
    for r in rows:
        tags = {"site": str(r["site"]), "tree": str(r["tree"]) if r.get("tree") else None,
                "device": str(r["device"]), "heritage": "true" if r.get("heritage") else "false"}
        out.append(point("tree_risk", tags, {k: r[k] for k in fields if k in r}, ts_ms))
    return out


def decision_line(row: Mapping[str, object]) -> str:
    """A watering decision → one ``irrigation_decisions`` line; ``row`` carries the tags
    ``site``, ``zone``, ``outcome``, ``rule``, ``ts_ms`` and the fields (``lockouts`` as a
    comma-separated string of reason codes; a missing forecast is left out)."""
    fields = SCHEMA["irrigation_decisions"]
    return point("irrigation_decisions",
                 {"site": str(row["site"]), "zone": str(row["zone"]),
                  "outcome": str(row["outcome"]), "rule": str(row["rule"])},
                 {k: row[k] for k in fields if row.get(k) is not None},
                 int(str(row["ts_ms"])))
