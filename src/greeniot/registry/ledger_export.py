"""Ledger export: GeoJSON FeatureCollection or CSV per layer, filterable by site.

Each tree carries its current state from the workflow tables:

- ``risk``: ``high`` with an unacknowledged critical alert or an active task of priority 1–2;
  ``medium`` with an unacknowledged warning alert or an active task of priority 3;
  ``low`` with any other active task or unacknowledged alert; else ``none``.
- ``last_inspection_ms``: when the latest ``inspect`` task on the tree was closed.
- ``open_tasks``: the active tasks on the tree (id, kind, priority, state, title).

The export writes the importable columns first, so the file imports back unchanged
(:mod:`greeniot.registry.ledger` ignores the export-only columns).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greeniot.registry.ledger import LAYERS, Layer, field_names
from greeniot.registry.models import Alert, Device, Site, Task, Tree, Zone
from greeniot.registry.schemas import DevicePublic, SitePublic, TreePublic, ZonePublic
from greeniot.registry.vocab import ACTIVE_TASK_STATES

_PUBLIC: dict[str, tuple[Any, Any]] = {"sites": (Site, SitePublic), "zones": (Zone, ZonePublic),
           "trees": (Tree, TreePublic), "devices": (Device, DevicePublic)}
RISK_LEVELS = ("none", "low", "medium", "high")


def _rows(session: Session, layer: Layer, site: str | None) -> list[dict[str, Any]]:
    model, public = _PUBLIC[layer]
    query = select(model)
    if site is not None:
        query = query.where((model.id if layer == "sites" else model.site) == site)
    query = query.order_by(*((model.id,) if layer == "sites" else (model.site, model.id)))
    out = []
    for row in session.scalars(query):
        out.append(public.model_validate(row).model_dump())
    return out


def tree_state(session: Session, site: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """``(site, tree)`` → ``risk``, ``last_inspection_ms``, ``open_tasks`` (see module doc)."""
    rank: dict[tuple[str, str], int] = defaultdict(int)
    open_tasks: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    tasks = select(Task).where(Task.tree.is_not(None), Task.state.in_(ACTIVE_TASK_STATES))
    alerts = select(Alert).where(Alert.tree.is_not(None), Alert.acknowledged.is_(False))
    inspected = (select(Task.site, Task.tree, func.max(Task.closed_ms))
                 .where(Task.kind == "inspect", Task.state == "closed", Task.tree.is_not(None))
                 .group_by(Task.site, Task.tree))
    if site is not None:
        tasks, alerts = tasks.where(Task.site == site), alerts.where(Alert.site == site)
        inspected = inspected.where(Task.site == site)
    for task in session.scalars(tasks.order_by(Task.priority, Task.id)):
        key = (task.site, str(task.tree))
        open_tasks[key].append({"id": task.id, "kind": task.kind, "priority": task.priority,
                                "state": task.state, "title": task.title})
        rank[key] = max(rank[key], 3 if task.priority <= 2 else 2 if task.priority == 3 else 1)
    for alert in session.scalars(alerts):
        key = (alert.site, str(alert.tree))
        level = {"critical": 3, "warning": 2}.get(alert.severity, 1)
        rank[key] = max(rank[key], level)
    last = {(s, str(t)): ms for s, t, ms in session.execute(inspected)}
    keys = set(rank) | set(open_tasks) | set(last)
    return {k: {"risk": RISK_LEVELS[rank[k]], "last_inspection_ms": last.get(k),
                "open_tasks": open_tasks.get(k, [])} for k in keys}


_NO_STATE: dict[str, Any] = {"risk": "none", "last_inspection_ms": None, "open_tasks": []}


def export_geojson(session: Session, *, site: str | None = None,
                   layers: tuple[Layer, ...] = LAYERS) -> dict[str, Any]:
    """A FeatureCollection; trees with a position get a Point, other features no geometry."""
    features: list[dict[str, Any]] = []
    state = tree_state(session, site) if "trees" in layers else {}
    for layer in LAYERS:
        if layer not in layers:
            continue
        for values in _rows(session, layer, site):
            geometry = None
            if layer == "trees":
                values |= state.get((values["site"], values["id"]), _NO_STATE)
                if values["lat"] is not None and values["lon"] is not None:
                    geometry = {"type": "Point", "coordinates": [values["lon"], values["lat"]]}
            features.append({"type": "Feature", "id": f"{layer}/{values.get('site', '')}/"
                                                      f"{values['id']}".replace("//", "/"),
                             "geometry": geometry, "properties": {"layer": layer, **values}})
    return {"type": "FeatureCollection", "features": features}


def export_csv(session: Session, *, layer: Layer, site: str | None = None) -> str:
    """One layer as CSV: importable columns, then the export-only ones."""
    rows = _rows(session, layer, site)
    state = tree_state(session, site) if layer == "trees" else {}
    columns = field_names(layer)
    extra = [c for c in (rows[0] if rows else {}) if c not in columns]
    if layer == "trees":
        extra += ["risk", "last_inspection_ms", "open_tasks"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns + extra, extrasaction="ignore")
    writer.writeheader()
    for values in rows:
        if layer == "trees":
            s = state.get((values["site"], values["id"]), _NO_STATE)
            values |= {"risk": s["risk"], "last_inspection_ms": s["last_inspection_ms"],
                       "open_tasks": ";".join(str(t["id"]) for t in s["open_tasks"])}
        writer.writerow({k: ("" if v is None else v) for k, v in values.items()})
    return buf.getvalue()
