"""Between the registry and the plain data the rest of the system uses.

- :func:`load_context` reads the ledger into :class:`greeniot.estate.EstateContext`,
  which the CLI hands to analytics and actions (they never import the registry).
- :func:`seed` upserts sites, zones, trees and devices from plain dicts (the simulator fleet
  description, a config file), idempotently: running it twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import InvalidInputError
from greeniot.registry.estate_models import CalendarRule
from greeniot.registry.irrigation import probe_fields, water_fields
from greeniot.registry.models import Base, Device, Site, Tree, Zone
from greeniot.registry.remount import remount_times
from greeniot.registry.schemas import DeviceCreate, SiteCreate, TreeCreate, ZoneCreate

log = logging.getLogger(__name__)


def load_context(session: Session, *, sites: Iterable[str] | None = None) -> EstateContext:
    """The estate as analytics and actions see it; ``sites`` limits it to those sites.

    A zone without ``valve_device`` gets the valve device bound to it, if there is one. A
    zone's rainy season is the windows of its site's enabled ``drainage_round`` calendar
    rules (those for the whole site and those for the zone).
    """
    wanted = None if sites is None else list(sites)

    def rows(model: type[Any]) -> list[Any]:
        query = select(model).order_by(model.site, model.id)
        if wanted is not None:
            query = query.where(model.site.in_(wanted))
        return list(session.scalars(query).all())

    devices = rows(Device)
    valves = {(d.site, d.zone_id): d.id for d in devices if d.kind == "valve" and d.zone_id}
    zone_rows = rows(Zone)
    site_query = select(Site).order_by(Site.id)
    if wanted is not None:
        site_query = site_query.where(Site.id.in_(wanted))
    site_rows = list(session.scalars(site_query).all())
    water = water_fields(zone_rows, site_rows)
    site_lat = {x.id: x.lat_deg for x in site_rows}
    remounts = remount_times(session)
    season = rainy_seasons(session, wanted)
    return EstateContext(
        devices=tuple(
            DeviceBinding(site=d.site, device=d.id, kind=d.kind, tree=d.tree_id, zone=d.zone_id,
                          remount_ms=remounts.get((d.site, d.id)),
                          **probe_fields(d, {(z.site, z.id): z for z in zone_rows}))
            for d in devices
        ),
        trees=tuple(
            TreeInfo(site=t.site, tree=t.id, heritage=t.heritage, species=t.species,
                     height_m=t.height_m,
                     lat_deg=t.lat if t.lat is not None else site_lat.get(t.site))
            for t in rows(Tree)
        ),
        zones=tuple(
            ZoneInfo(site=z.site, zone=z.id, refill_vwc_pct=z.refill_vwc_pct,
                     saturation_vwc_pct=z.saturation_vwc_pct, waterlog_hours=z.waterlog_hours,
                     valve_device=z.valve_device or valves.get((z.site, z.id)),
                     max_run_s=z.max_run_s, min_interval_s=z.min_interval_s,
                     daily_max_s=z.daily_max_s,
                     rainy_season=season.get((z.site, None), ()) + season.get((z.site, z.id), ()),
                     **water[(z.site, z.id)])
            for z in zone_rows
        ),
    )


def rainy_seasons(session: Session, sites: list[str] | None
                  ) -> dict[tuple[str, str | None], tuple[tuple[str, str], ...]]:
    """(site, zone or None for the whole site) → the local date windows of its enabled
    ``drainage_round`` calendar rules."""
    query = select(CalendarRule).where(CalendarRule.work == "drainage_round",
                                       CalendarRule.enabled.is_(True)).order_by(CalendarRule.id)
    if sites is not None:
        query = query.where(CalendarRule.site.in_(sites))
    out: dict[tuple[str, str | None], tuple[tuple[str, str], ...]] = {}
    for r in session.scalars(query):
        out[(r.site, r.zone)] = (*out.get((r.site, r.zone), ()), (r.start_md, r.end_md))
    return out


@dataclass
class SeedResult:
    """Rows per table (``sites``, ``zones``, ``trees``, ``devices``) by outcome."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, table: str, outcome: str) -> None:
        bucket: dict[str, int] = getattr(self, outcome)
        bucket[table] = bucket.get(table, 0) + 1


def _accepted_keys(schema: type[BaseModel]) -> set[str]:
    keys = set()
    for name, info in schema.model_fields.items():
        keys.add(name)
        if isinstance(info.validation_alias, AliasChoices):
            keys.update(c for c in info.validation_alias.choices if isinstance(c, str))
        elif isinstance(info.validation_alias, str):
            keys.add(info.validation_alias)
    return keys


def _validate(schema: type[BaseModel], table: str, item: Mapping[str, Any],
              index: int) -> BaseModel:
    accepted = _accepted_keys(schema)
    ignored = sorted(set(item) - accepted)
    if ignored:
        log.debug("seed %s[%d]: ignoring non-registry keys %s", table, index, ignored)
    try:
        return schema.model_validate({k: v for k, v in item.items() if k in accepted})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"seed {table}[{index}] {dict(item)!r}: {where}: "
                                f"{first['msg']}") from err


def _upsert(session: Session, model: type[Base], data: BaseModel, table: str,
            result: SeedResult, now: int) -> None:
    """Insert ``data`` in full, or write only the keys the item gave to the existing row."""
    fields: Any = data
    key: Any = fields.id if model is Site else (fields.site, fields.id)
    row = session.get(model, key)
    if row is None:
        values = data.model_dump()
        if model is not Zone:
            values["created_ms"] = now
        if model is Tree:
            values["updated_ms"] = now
        if model is Device:
            values["status"] = "unknown"
        session.add(model(**values))
        session.flush()
        result.count(table, "created")
        return
    given = data.model_dump(include=data.model_fields_set)
    changed = {k: v for k, v in given.items() if getattr(row, k) != v}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed and model is Tree:
        row.updated_ms = now  # type: ignore[attr-defined]
    result.count(table, "updated" if changed else "unchanged")


def seed(session: Session, *, sites: Iterable[Mapping[str, Any]] = (),
         zones: Iterable[Mapping[str, Any]] = (), trees: Iterable[Mapping[str, Any]] = (),
         devices: Iterable[Mapping[str, Any]] = (), now_ms: int | None = None) -> SeedResult:
    """Upsert the estate from plain dicts in one transaction; returns what changed.

    Keys are the ``*Create`` schema fields; the names of :mod:`greeniot.estate`
    are accepted too (``tree``/``zone``/``device`` for ids and bindings), and keys that are
    not registry fields (simulation parameters) are ignored. Only the keys given are written
    to an existing row. A site referred to but not listed is created with its id as name.
    Invalid items raise :class:`InvalidInputError` naming the item; nothing is written then.
    """
    now = wall_clock_ms() if now_ms is None else now_ms
    result = SeedResult()
    try:
        seen_sites: set[str] = set()
        for i, item in enumerate(sites):
            data = _validate(SiteCreate, "sites", item, i)
            _upsert(session, Site, data, "sites", result, now)
            seen_sites.add(data.id)  # type: ignore[attr-defined]
        parsed: list[tuple[type[Base], str, BaseModel]] = []
        for model, schema, table, items in ((Zone, ZoneCreate, "zones", zones),
                                            (Tree, TreeCreate, "trees", trees),
                                            (Device, DeviceCreate, "devices", devices)):
            parsed.extend((model, table, _validate(schema, table, item, i))
                          for i, item in enumerate(items))
        for _model, _table, data in parsed:
            site = data.site  # type: ignore[attr-defined]
            if site not in seen_sites and session.get(Site, site) is None:
                session.add(Site(id=site, name=site, created_ms=now))
                session.flush()
                result.count("sites", "created")
            seen_sites.add(site)
        for model_cls, table, data in parsed:
            if model_cls is Device:
                _check_device(session, data)
            _upsert(session, model_cls, data, table, result, now)
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.info("seeded registry: created %s, updated %s", result.created, result.updated)
    return result


def _check_device(session: Session, data: BaseModel) -> None:
    assert isinstance(data, DeviceCreate)
    if data.tree_id is not None and session.get(Tree, (data.site, data.tree_id)) is None:
        raise InvalidInputError(f"seed: device '{data.id}' is bound to tree '{data.tree_id}', "
                                f"which is not in the ledger of site '{data.site}'")
    if data.zone_id is not None and session.get(Zone, (data.site, data.zone_id)) is None:
        raise InvalidInputError(f"seed: device '{data.id}' is bound to zone '{data.zone_id}', "
                                f"which site '{data.site}' does not have")
