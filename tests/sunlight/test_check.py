"""The sunlight check over the ledger: the API on a hand-checkable tree, the sample estate
falling short with a pruning task opened once, and the CLI as a real process."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greeniot.api import create_app
from greeniot.config import Settings
from tests.estate.conftest import API, SAMPLE, cli

LAT, LON = 31.23, 121.47
DECL = -23.44
R_EARTH = 6_371_008.8
WINDOW = {"site": "lakeside", "lat": LAT, "lon": LON, "height_m": 4.5, "facing_deg": 180,
          "name": "block 3, flat 201", "year": 2026}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as c:
        yield c


def test_one_round_crown_due_south_shades_for_the_hand_computed_time(client: TestClient
                                                                     ) -> None:
    client.post(f"{API}/sites", json={"id": "solo", "tz": "Asia/Shanghai"})
    d, r, h_w = 10.0, 3.0, 1.5
    z = h_w + d * math.tan(math.radians(90 - LAT + DECL))  # crown centre on the noon ray
    lat = LAT - math.degrees(d / R_EARTH)  # 10 m due south
    assert client.post(f"{API}/trees", json={
        "site": "solo", "id": "ball", "lat": lat, "lon": LON, "height_m": z + r,
        "crown_radius_m": r, "crown_base_m": z - r, "crown_shape": "ellipsoid"}
    ).status_code == 201
    client.post(f"{API}/trees", json={"site": "solo", "id": "no-crown", "lat": lat,
                                      "lon": LON + 0.00005, "height_m": 8})
    res = client.post(f"{API}/sunlight/check", json={
        **WINDOW, "site": "solo", "height_m": h_w, "open_tasks": True}).json()
    expected = 2 * math.degrees(math.asin(r / math.hypot(d, z - h_w))) / (
        15 * math.cos(math.radians(DECL)))
    assert res["blocked_h"]["ball"] == pytest.approx(expected, abs=0.05)
    assert res["direct_h"] == pytest.approx(res["open_sky_h"] - expected, abs=0.05)
    assert res["ok"] is True and res["prune"] == [] and res["task_ids"] == []
    assert res["skipped"] == {"no-crown": "no height_m or crown_radius_m in the ledger"}
    # Two sunny periods, split around solar noon (~11:54 in Shanghai at 121.47° E).
    (_, b), (c, _) = res["sunny_periods"]
    assert b < "11:54" < c
    # Required 9 h: the crown now matters, and clearing it would restore the window.
    short = client.post(f"{API}/sunlight/check", json={
        **WINDOW, "site": "solo", "height_m": h_w, "threshold_h": 9.0}).json()
    assert short["ok"] is False and short["prune"] == ["ball"]
    assert short["restored_h"] == short["open_sky_h"]
    # Required 11 h is more than the open sky gives: no tree is named.
    assert client.post(f"{API}/sunlight/check", json={
        **WINDOW, "site": "solo", "height_m": h_w, "threshold_h": 11.0}).json()["prune"] == []


def test_sample_estate_window_falls_short_and_one_pruning_task_is_opened(client: TestClient
                                                                         ) -> None:
    client.post(f"{API}/ledger/import", params={"format": "geojson"},
                content=SAMPLE.read_bytes())
    res = client.post(f"{API}/sunlight/check", json={**WINDOW, "open_tasks": True}).json()
    assert res["date"] == "2026-12-22"
    assert res["direct_h"] < 1.5 <= res["restored_h"]
    assert res["prune"] and set(res["prune"]) <= set(res["blocked_h"])
    assert len(res["task_ids"]) == len(res["prune"])
    task = client.get(f"{API}/tasks/{res['task_ids'][0]}").json()
    assert task["kind"] == "prune" and task["tree"] == res["prune"][0]
    assert "block 3, flat 201" in task["reason"]
    again = client.post(f"{API}/sunlight/check", json={**WINDOW, "open_tasks": True}).json()
    assert again["task_ids"] == res["task_ids"]  # the open task, not a second one
    # The north-facing window of the same flat never sees the winter sun.
    north = client.post(f"{API}/sunlight/check", json={**WINDOW, "facing_deg": 0}).json()
    assert north["open_sky_h"] == 0 and north["prune"] == []
    assert client.post(f"{API}/sunlight/check",
                       json={**WINDOW, "site": "nowhere"}).status_code == 404


def test_cli_sunlight_check(tmp_path: Path) -> None:
    data = tmp_path / "cli"
    assert cli(data, "ledger", "import", str(SAMPLE)).returncode == 0
    out = cli(data, "sunlight", "check", "--site", "lakeside", "--lat", str(LAT), "--lon",
              str(LON), "--height", "4.5", "--facing", "180", "--year", "2026",
              "--open-tasks")
    assert out.returncode == 0, out.stderr
    assert "SHORT" in out.stdout and "prune: " in out.stdout
    assert "pruning tasks: " in out.stdout
