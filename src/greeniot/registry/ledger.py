"""Ledger import: sites, zones, trees and devices from CSV or GeoJSON, row by row.

Every row is validated with the registry's own ``*Create`` schemas; a bad row is reported with
its number and the reason and skipped, the good rows are written (each in its own savepoint,
one commit at the end). Rows are matched by id (``(site, id)``): a row for a known object
updates only the columns the file gives, so importing the same file twice changes nothing the
second time (``unchanged``). Empty CSV cells mean "not given".

Row numbers: in a CSV file the line number as a spreadsheet shows it (the header is row 1,
the first data row is row 2); in GeoJSON the feature's position, 1-based.

Columns that an export adds but that are not ledger input (``created_ms``, ``risk``,
``open_tasks``, retirement fields, device status ...) are ignored on import, so an exported
file imports back unchanged. Any other unknown column is a row error.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.models import Base, Device, Site, Tree, Zone
from greeniot.registry.schemas import DeviceCreate, SiteCreate, TreeCreate, ZoneCreate

log = logging.getLogger(__name__)

Layer = Literal["sites", "zones", "trees", "devices"]
Format = Literal["csv", "geojson"]
#: Import order, so that a device row can refer to a tree of the same file.
LAYERS: tuple[Layer, ...] = ("sites", "zones", "trees", "devices")
_SINGULAR = {"site": "sites", "zone": "zones", "tree": "trees", "device": "devices"}
_MODELS: dict[str, tuple[type[Base], type[BaseModel]]] = {
    "sites": (Site, SiteCreate), "zones": (Zone, ZoneCreate),
    "trees": (Tree, TreeCreate), "devices": (Device, DeviceCreate),
}
#: Written by the export, not ledger input: ignored on import.
EXPORT_ONLY: frozenset[str] = frozenset({
    "layer", "created_ms", "updated_ms", "risk", "last_inspection_ms", "open_tasks",
    "retired_ms", "retired_reason", "retired_note", "successor_id", "predecessor_id",
    "status", "last_seen_ms", "bat_v",
})


class LedgerFormatError(ValueError):
    """The file as a whole cannot be read (not CSV/GeoJSON, no header, unknown layer)."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row of the file before validation."""

    row: int
    layer: Layer
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    layer: str
    id: str | None
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did, per layer, and every row it refused."""

    rows: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def count(self, outcome: str, layer: str) -> None:
        bucket: dict[str, int] = getattr(self, outcome)
        bucket[layer] = bucket.get(layer, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged,
                "errors": [{"row": e.row, "layer": e.layer, "id": e.id, "reason": e.reason}
                           for e in self.errors]}

    def lines(self) -> list[str]:
        """A human-readable report (the CLI prints it)."""
        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"
        out = [f"rows read: {self.rows}", f"created: {fmt(self.created)}",
               f"updated: {fmt(self.updated)}", f"unchanged: {fmt(self.unchanged)}",
               f"rejected: {len(self.errors)}"]
        out += [f"  row {e.row} ({e.layer} {e.id or '?'}): {e.reason}" for e in self.errors]
        return out


# --- reading files -------------------------------------------------------------------------

def layer_of(name: str) -> Layer:
    """``"tree"``/``"trees"`` → ``"trees"``; :class:`LedgerFormatError` for anything else."""
    key = name.strip().lower()
    key = _SINGULAR.get(key, key)
    if key not in _MODELS:
        raise LedgerFormatError(f"unknown layer {name!r}: one of {', '.join(LAYERS)}")
    return key  # type: ignore[return-value]


def guess_format(name: str) -> Format:
    lower = name.lower()
    if lower.endswith((".geojson", ".json")):
        return "geojson"
    if lower.endswith(".csv"):
        return "csv"
    raise LedgerFormatError(f"cannot tell the format of {name!r}: use .csv or .geojson")


def guess_layer(name: str) -> Layer:
    """The layer a CSV file holds, from its name (``trees.csv``, ``estate-a-devices.csv``)."""
    stem = Path(name).stem.lower()
    for singular, layer in _SINGULAR.items():
        if singular in stem:
            return layer  # type: ignore[return-value]
    raise LedgerFormatError(f"cannot tell which layer {name!r} holds: name it after one of "
                            f"{', '.join(LAYERS)} or pass the layer")


def read_csv(text: str, layer: Layer) -> list[RawRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise LedgerFormatError("the CSV file has no header row")
    rows = []
    for i, record in enumerate(reader, start=2):
        extra = record.pop(None, None)
        values: dict[str, Any] = {k.strip(): v.strip() for k, v in record.items()
                                  if k and v is not None and v.strip() != ""}
        if extra:
            values["_extra"] = extra
        rows.append(RawRow(i, layer, values))
    return rows


def read_geojson(text: str, default_layer: Layer = "trees") -> list[RawRow]:
    """Features of a FeatureCollection; ``properties.layer`` names the layer (default trees).

    A Point geometry gives a tree's ``lon``/``lat`` (GeoJSON order: longitude first).
    """
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise LedgerFormatError(f"not valid JSON: {err}") from err
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise LedgerFormatError("GeoJSON must be a FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise LedgerFormatError("GeoJSON FeatureCollection has no 'features' list")
    rows = []
    for i, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            rows.append(RawRow(i, default_layer, {"_error": "feature has no properties object"}))
            continue
        values = dict(props)
        try:
            layer = layer_of(str(values.pop("layer", default_layer)))
        except LedgerFormatError as err:
            rows.append(RawRow(i, default_layer, {"_error": str(err), **values}))
            continue
        geometry = feature.get("geometry")
        if layer == "trees" and geometry is not None:
            coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if (not isinstance(geometry, dict) or geometry.get("type") != "Point"
                    or not isinstance(coords, list) or len(coords) < 2):
                values["_error"] = "a tree's geometry must be a Point [lon, lat]"
            else:
                values["lon"], values["lat"] = coords[0], coords[1]
        rows.append(RawRow(i, layer, values))
    return rows


def read_rows(text: str, *, fmt: Format, layer: Layer | None = None) -> list[RawRow]:
    if fmt == "csv":
        if layer is None:
            raise LedgerFormatError("a CSV import needs its layer (sites, zones, trees, devices)")
        return read_csv(text, layer)
    return read_geojson(text, layer or "trees")


# --- writing rows --------------------------------------------------------------------------

def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "row"
        msg = "unknown column" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


class _RowRefused(Exception):
    pass


def _check_refs(session: Session, layer: str, data: Any) -> None:
    if layer == "sites":
        return
    if session.get(Site, data.site) is None:
        raise _RowRefused(f"site '{data.site}' is not in the registry: add a sites row "
                          "(or create the site) first")
    if layer == "devices":
        if data.tree_id is not None and session.get(Tree, (data.site, data.tree_id)) is None:
            raise _RowRefused(f"tree '{data.tree_id}' is not in the ledger of site "
                              f"'{data.site}'")
        if data.zone_id is not None and session.get(Zone, (data.site, data.zone_id)) is None:
            raise _RowRefused(f"zone '{data.zone_id}' is not in site '{data.site}'")


def _write(session: Session, layer: str, data: Any, now: int) -> str:
    model, _schema = _MODELS[layer]
    key: Any = data.id if layer == "sites" else (data.site, data.id)
    row: Any = session.get(model, key)
    if row is None:
        values = data.model_dump()
        if layer != "zones":
            values["created_ms"] = now
        if layer == "trees":
            values["updated_ms"] = now
        if layer == "devices":
            values["status"] = "unknown"
        session.add(model(**values))
        session.flush()
        return "created"
    given = data.model_dump(include=data.model_fields_set - {"id", "site"})
    changed = {k: v for k, v in given.items() if getattr(row, k) != v}
    if layer == "zones":
        refill = changed.get("refill_vwc_pct", row.refill_vwc_pct)
        sat = changed.get("saturation_vwc_pct", row.saturation_vwc_pct)
        if sat is None or refill is None or sat <= refill:
            raise _RowRefused(f"saturation_vwc_pct ({sat}) must be above refill_vwc_pct "
                              f"({refill})")
    for name, value in changed.items():
        setattr(row, name, value)
    if changed and layer == "trees":
        row.updated_ms = now
    session.flush()
    return "updated" if changed else "unchanged"


def import_rows(session: Session, rows: Iterable[RawRow],
                now_ms: int | None = None) -> ImportReport:
    """Validate and upsert ``rows`` (sites first, then zones, trees, devices); commits once."""
    now = wall_clock_ms() if now_ms is None else now_ms
    report = ImportReport()
    ordered = sorted(rows, key=lambda r: (LAYERS.index(r.layer), r.row))
    report.rows = len(ordered)
    for raw in ordered:
        values = {k: v for k, v in raw.values.items() if k not in EXPORT_ONLY}
        ident = values.get("id") or values.get(raw.layer[:-1])
        ident_s = str(ident) if ident is not None else None
        if "_error" in values:
            report.errors.append(RowError(raw.row, raw.layer, ident_s, str(values["_error"])))
            continue
        if "_extra" in values:
            report.errors.append(RowError(raw.row, raw.layer, ident_s,
                                          "more cells than header columns"))
            continue
        _model, schema = _MODELS[raw.layer]
        try:
            data = schema.model_validate(values)
            with session.begin_nested():
                _check_refs(session, raw.layer, data)
                outcome = _write(session, raw.layer, data, now)
        except ValidationError as err:
            report.errors.append(RowError(raw.row, raw.layer, ident_s, _reason(err)))
            continue
        except _RowRefused as err:
            report.errors.append(RowError(raw.row, raw.layer, ident_s, str(err)))
            continue
        except IntegrityError as err:
            report.errors.append(RowError(raw.row, raw.layer, ident_s,
                                          f"rejected by the database: {err.orig}"))
            continue
        report.count(outcome, raw.layer)
    session.commit()
    log.info("ledger import: %d rows, created %s, updated %s, %d rejected", report.rows,
             report.created, report.updated, len(report.errors))
    return report


def import_text(session: Session, text: str, *, fmt: Format, layer: Layer | None = None,
                now_ms: int | None = None) -> ImportReport:
    """Read ``text`` as CSV (of ``layer``) or GeoJSON and import it; see :func:`import_rows`."""
    return import_rows(session, read_rows(text, fmt=fmt, layer=layer), now_ms=now_ms)


def import_file(session: Session, path: Path, *, layer: Layer | None = None,
                now_ms: int | None = None) -> ImportReport:
    fmt = guess_format(path.name)
    if fmt == "csv" and layer is None:
        layer = guess_layer(path.name)
    return import_text(session, path.read_text(encoding="utf-8"), fmt=fmt, layer=layer,
                       now_ms=now_ms)


def field_names(layer: Layer) -> list[str]:
    """The importable columns of ``layer``, in schema order (the export writes these first)."""
    return list(_MODELS[layer][1].model_fields)


def as_rows(items: Iterable[Mapping[str, Any]], layer: Layer) -> list[RawRow]:
    """Plain dicts (an API JSON body) as rows numbered from 1."""
    return [RawRow(i, layer, dict(item)) for i, item in enumerate(items, start=1)]
