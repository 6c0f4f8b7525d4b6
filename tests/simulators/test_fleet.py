"""The fleet is deterministic, its ids are protocol ids, its records fit the analytics context."""

from __future__ import annotations

import dataclasses
import json

import pytest

from greeniot.estate import DeviceBinding, TreeInfo, ZoneInfo
from greeniot.protocol import valid_id
from greeniot.simulators import Fleet


def test_same_seed_same_fleet_other_seed_other_fleet() -> None:
    assert Fleet.generate(seed=7) == Fleet.generate(seed=7)
    assert Fleet.generate(seed=7) != Fleet.generate(seed=8)


def test_default_fleet_shape_and_ids() -> None:
    fleet = Fleet.generate(sites=2, trees_per_site=20, zones_per_site=4, seed=1)
    assert [s.site for s in fleet.sites] == ["estate-a", "estate-b"]
    assert [s.weather_device for s in fleet.sites] == ["wx-1", "wx-2"]
    assert len(fleet.trees) == 40 and len(fleet.zones) == 8
    assert fleet.trees[6].tilt_device == "tilt-t007"
    assert fleet.zones[1].valve_device == "valve-z02"
    assert fleet.zones[1].soil_devices[0] == "soil-z02-1"
    devices = fleet.devices()
    ids = [d.device for d in devices]
    assert len(ids) == len(set(ids)), "device ids are unique across the fleet"
    assert all(valid_id(i) for i in ids)
    for z in fleet.zones:
        assert 1 <= len(z.soil_devices) <= 3
    expected = 2 + 40 + sum(len(z.soil_devices) + 1 for z in fleet.zones)
    assert len(devices) == expected
    heritage = [t for t in fleet.trees if t.heritage]
    assert len(heritage) == 4 and all(t.name for t in heritage)
    assert all(t.height_m >= 18 for t in heritage)


def test_site_ids_override_and_are_checked() -> None:
    fleet = Fleet.generate(site_ids=["my-site"])
    assert {d.site for d in fleet.devices()} == {"my-site"}
    with pytest.raises(ValueError, match="site id"):
        Fleet.generate(site_ids=["Bad Site"])
    with pytest.raises(ValueError, match="site_ids has 1"):
        Fleet.generate(sites=2, site_ids=["a"])


def test_registry_records_convert_to_analytics_context() -> None:
    fleet = Fleet.generate(seed=3)
    reg = json.loads(json.dumps(fleet.registry()))  # plain JSON data
    assert set(reg) == {"sites", "zones", "trees", "devices"}
    bindings = [DeviceBinding(**d) for d in reg["devices"]]
    assert {b.kind for b in bindings} == {"soil", "tilt", "valve", "weather"}
    assert all(b.tree for b in bindings if b.kind == "tilt")
    assert all(b.zone for b in bindings if b.kind in ("soil", "valve"))
    tree_fields = {f.name for f in dataclasses.fields(TreeInfo)}
    zone_fields = {f.name for f in dataclasses.fields(ZoneInfo)}
    trees = [TreeInfo(**{k: v for k, v in t.items() if k in tree_fields}) for t in reg["trees"]]
    zones = [ZoneInfo(**{k: v for k, v in z.items() if k in zone_fields}) for z in reg["zones"]]
    assert sum(t.heritage for t in trees) == 2
    assert all(z.valve_device == f"valve-{z.zone}" and z.refill_vwc_pct == 18.0 for z in zones)
