"""Seeding the registry from plain dicts and reading it back as the analytics context."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo
from greeniot.registry import crud
from greeniot.registry.context import load_context, seed
from greeniot.registry.errors import InvalidInputError
from tests.registry.conftest import T0

FLEET: dict[str, list[dict[str, Any]]] = {
    "sites": [{"id": "estate-a", "name": "Estate A"}],
    "zones": [
        {"site": "estate-a", "zone": "z1", "refill_vwc_pct": 20.0, "valve_device": "valve-z1"},
        {"site": "estate-a", "zone": "z2"},
    ],
    "trees": [
        {"site": "estate-a", "tree": "t1", "heritage": True, "species": "Ficus microcarpa",
         "height_m": 18.0, "lean_rate_deg_day": 0.02},  # a simulation parameter: ignored
        {"site": "estate-b", "id": "t7"},  # site not listed: created
    ],
    "devices": [
        {"site": "estate-a", "device": "tilt-t1", "kind": "tilt", "tree": "t1",
         "interval_s": 300},
        {"site": "estate-a", "device": "soil-z1-1", "kind": "soil", "zone": "z1"},
        {"site": "estate-a", "device": "valve-z2", "kind": "valve", "zone": "z2"},
        {"site": "estate-b", "id": "wx-1", "kind": "weather"},
    ],
}


def test_seed_then_load_context(session: Session) -> None:
    result = seed(session, **FLEET, now_ms=T0)
    assert result.created == {"sites": 2, "zones": 2, "trees": 2, "devices": 4}
    ctx = load_context(session)
    assert isinstance(ctx, EstateContext)
    assert ctx.devices == (
        DeviceBinding(site="estate-a", device="soil-z1-1", kind="soil", zone="z1"),
        DeviceBinding(site="estate-a", device="tilt-t1", kind="tilt", tree="t1"),
        DeviceBinding(site="estate-a", device="valve-z2", kind="valve", zone="z2"),
        DeviceBinding(site="estate-b", device="wx-1", kind="weather"),
    )
    assert ctx.trees == (
        TreeInfo(site="estate-a", tree="t1", heritage=True, species="Ficus microcarpa",
                 height_m=18.0),
        TreeInfo(site="estate-b", tree="t7"),
    )
    # z1 names its valve; z2 gets the valve device bound to it; neither gives its soil, so
    # both are loam by default (a texture default, not a soil test)
    loam = {"soil_texture": "loam", "soil_from_texture": True}
    assert ctx.zones == (
        ZoneInfo(site="estate-a", zone="z1", refill_vwc_pct=20.0, valve_device="valve-z1",
                 **loam),
        ZoneInfo(site="estate-a", zone="z2", valve_device="valve-z2", **loam),
    )
    assert {(b.site, b.device): b for b in ctx.devices}[("estate-a", "tilt-t1")] == ctx.devices[1]
    only_b = load_context(session, sites=["estate-b"])
    assert [d.device for d in only_b.devices] == ["wx-1"] and only_b.zones == ()
    assert crud.get_site(session, site="estate-b").name == "estate-b"


def test_seed_is_idempotent_and_updates_only_given_keys(session: Session) -> None:
    seed(session, **FLEET, now_ms=T0)
    again = seed(session, **FLEET, now_ms=T0 + 1)
    assert again.created == {} and again.updated == {}
    assert again.unchanged == {"sites": 1, "zones": 2, "trees": 2, "devices": 4}
    # an operator edited the ledger; a re-seed that does not mention the field keeps it
    tree = crud.get_tree(session, site="estate-a", tree="t1")
    tree.notes = "cabled 2024"
    session.commit()
    changed = seed(session, trees=[{"site": "estate-a", "tree": "t1", "height_m": 19.0}],
                   now_ms=T0 + 2)
    assert changed.updated == {"trees": 1}
    tree = crud.get_tree(session, site="estate-a", tree="t1")
    assert (tree.height_m, tree.notes, tree.heritage, tree.updated_ms) == (
        19.0, "cabled 2024", True, T0 + 2)


@pytest.mark.parametrize(("kind", "item", "message"), [
    ("devices", {"site": "estate-a", "device": "tilt-9", "kind": "tilt", "tree": "t9"},
     "bound to tree 't9'"),
    ("devices", {"site": "estate-a", "device": "x-1", "kind": "camera"}, "kind"),
    ("zones", {"site": "estate-a", "zone": "Z 1"}, "zones\\[0\\]"),
])
def test_seed_refuses_bad_items_and_writes_nothing(session: Session, kind: str,
                                                   item: dict[str, Any], message: str) -> None:
    fleet = {k: list(v) for k, v in FLEET.items()}
    fleet[kind] = [item]
    with pytest.raises(InvalidInputError, match=message):
        seed(session, **fleet)
    assert crud.list_sites(session) == [] and crud.list_trees(session) == []
