"""Sites, zones, the tree ledger and devices: create, read, update, and what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from greeniot.registry import crud
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.schemas import (
    DeviceCreate,
    DeviceUpdate,
    SiteCreate,
    SiteUpdate,
    TreeCreate,
    TreeUpdate,
    ZoneCreate,
    ZoneUpdate,
)
from tests.registry.conftest import T0


def test_sites(session: Session) -> None:
    site = crud.create_site(session, data=SiteCreate(id="estate-a", name="A"), now_ms=T0)
    assert (site.id, site.name, site.created_ms) == ("estate-a", "A", T0)
    with pytest.raises(ConflictError, match="site 'estate-a' already exists"):
        crud.create_site(session, data=SiteCreate(id="estate-a"))
    crud.update_site(session, site="estate-a", data=SiteUpdate(name="Estate A"))
    assert [s.name for s in crud.list_sites(session)] == ["Estate A"]
    with pytest.raises(NotFoundError, match="site 'nope' not found"):
        crud.get_site(session, site="nope")


def test_ids_follow_the_protocol_rule() -> None:
    with pytest.raises(ValidationError, match="String should match pattern"):
        SiteCreate(id="Estate A")
    with pytest.raises(ValidationError):
        TreeCreate(site="estate-a", id="-t1")


def test_zone_defaults_come_from_the_analytics_context(estate: Session) -> None:
    zone = crud.get_zone(estate, site="estate-a", zone="z1")
    assert (zone.refill_vwc_pct, zone.saturation_vwc_pct, zone.max_run_s, zone.daily_max_s) == (
        18.0, 90.0, 900, 3600)
    assert zone.rain_forecast_mm is None


def test_zone_thresholds_must_be_ordered(estate: Session) -> None:
    with pytest.raises(ValidationError, match="must be above refill_vwc_pct"):
        ZoneCreate(site="estate-a", id="z2", refill_vwc_pct=30, saturation_vwc_pct=25)
    with pytest.raises(InvalidInputError, match=r"saturation_vwc_pct \(90.0\) must be above"):
        crud.update_zone(estate, site="estate-a", zone="z1",
                         data=ZoneUpdate(refill_vwc_pct=95))
    with pytest.raises(InvalidInputError, match="max_run_s cannot be cleared"):
        crud.update_zone(estate, site="estate-a", zone="z1", data=ZoneUpdate(max_run_s=None))
    zone = crud.update_zone(estate, site="estate-a", zone="z1",
                            data=ZoneUpdate(refill_vwc_pct=20, rain_forecast_mm=12.5))
    assert (zone.refill_vwc_pct, zone.rain_forecast_mm, zone.saturation_vwc_pct) == (20, 12.5, 90)


def test_zone_needs_its_site(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="site 'estate-x' is not in the registry"):
        crud.create_zone(session, data=ZoneCreate(site="estate-x", id="z1"))


def test_tree_ledger(estate: Session) -> None:
    t1 = crud.get_tree(estate, site="estate-a", tree="t1")
    assert (t1.heritage, t1.heritage_name, t1.created_ms, t1.updated_ms) == (
        True, "Old Banyan", T0, T0)
    with pytest.raises(ConflictError, match="tree 't1' already exists at site 'estate-a'"):
        crud.create_tree(estate, data=TreeCreate(site="estate-a", id="t1"))
    updated = crud.update_tree(estate, site="estate-a", tree="t2",
                               data=TreeUpdate(height_m=12.5, dbh_cm=40, lat=22.3, lon=114.2,
                                               planted_year=1998, notes="by the gate"),
                               now_ms=T0 + 9)
    assert (updated.height_m, updated.planted_year, updated.updated_ms, updated.species) == (
        12.5, 1998, T0 + 9, "Bauhinia")
    with pytest.raises(InvalidInputError, match="heritage cannot be null"):
        crud.update_tree(estate, site="estate-a", tree="t2", data=TreeUpdate(heritage=None))
    assert [t.id for t in crud.list_trees(estate, heritage=True)] == ["t1"]
    assert [t.id for t in crud.list_trees(estate, site="estate-a")] == ["t1", "t2"]
    assert [t.id for t in crud.list_trees(estate, species="Bauhinia")] == ["t2"]
    assert crud.list_trees(estate, site="estate-b") == []
    with pytest.raises(NotFoundError, match="tree 't9' not found at site 'estate-a'"):
        crud.get_tree(estate, site="estate-a", tree="t9")


def test_devices_bind_to_ledger_trees_and_zones(estate: Session) -> None:
    tilt = crud.create_device(estate, data=DeviceCreate(site="estate-a", id="tilt-t1",
                                                        kind="tilt", tree_id="t1"), now_ms=T0)
    assert (tilt.status, tilt.last_seen_ms, tilt.tree_id) == ("unknown", None, "t1")
    crud.create_device(estate, data=DeviceCreate(site="estate-a", id="valve-z1", kind="valve",
                                                 zone_id="z1"))
    with pytest.raises(InvalidInputError, match="tree 't9', which is not in the ledger"):
        crud.create_device(estate, data=DeviceCreate(site="estate-a", id="tilt-t9",
                                                     kind="tilt", tree_id="t9"))
    with pytest.raises(InvalidInputError, match="zone 'z9'"):
        crud.update_device(estate, site="estate-a", device="valve-z1",
                           data=DeviceUpdate(zone_id="z9"))
    with pytest.raises(ConflictError, match="device 'valve-z1' already exists"):
        crud.create_device(estate, data=DeviceCreate(site="estate-a", id="valve-z1",
                                                     kind="valve"))
    moved = crud.update_device(estate, site="estate-a", device="tilt-t1",
                               data=DeviceUpdate(tree_id="t2", fw="0.2.0"))
    assert (moved.tree_id, moved.fw) == ("t2", "0.2.0")
    assert [d.id for d in crud.list_devices(estate, kind="valve")] == ["valve-z1"]
    assert [d.id for d in crud.list_devices(estate, tree_id="t2")] == ["tilt-t1"]
    assert [d.id for d in crud.list_devices(estate, zone_id="z1")] == ["valve-z1"]


def test_device_status_is_monotonic_in_time(estate: Session) -> None:
    crud.create_device(estate, data=DeviceCreate(site="estate-a", id="soil-1", kind="soil",
                                                 zone_id="z1"))
    crud.record_device_status(estate, site="estate-a", device="soil-1", status="online",
                              ts_ms=T0 + 100, fw="0.1.0", bat_v=3.9)
    # a late, buffered "offline" from before does not hide the newer "online"
    crud.record_device_status(estate, site="estate-a", device="soil-1", status="offline",
                              ts_ms=T0 + 50)
    dev = crud.get_device(estate, site="estate-a", device="soil-1")
    assert (dev.status, dev.last_seen_ms, dev.fw, dev.bat_v) == ("online", T0 + 100, "0.1.0",
                                                                 3.9)
    crud.record_device_status(estate, site="estate-a", device="soil-1", status="offline",
                              ts_ms=T0 + 200)
    assert crud.get_device(estate, site="estate-a", device="soil-1").status == "offline"
    assert crud.list_devices(estate, status="offline")[0].id == "soil-1"
    assert crud.record_device_status(estate, site="estate-a", device="ghost", status="online",
                                     ts_ms=T0) is None
    with pytest.raises(InvalidInputError, match="'rebooting'"):
        crud.record_device_status(estate, site="estate-a", device="soil-1",
                                  status="rebooting", ts_ms=T0)
