"""Maintenance calendar: occurrences on local dates, idempotent runs, seasons, work records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.registry import crud, workflow
from greeniot.registry.calendar import RuleSpec, due_occurrences, run_calendar
from tests.estate.conftest import API, cli

#: close-out evidence (required by the workflow)
DONE = [{"kind": "text", "value": "done as noted"}]

SH = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST


def ms(*args: int, tz: dt.tzinfo = SH) -> int:
    return int(dt.datetime(*args, tzinfo=tz).timestamp() * 1000)


def test_due_occurrences_follow_local_dates_cadence_and_the_new_year() -> None:
    once = RuleSpec(1, "Asia/Shanghai", "11-10", "11-30", None, 8)
    assert due_occurrences([once], ms(2026, 11, 10, 7, 59)) == []
    (occ,) = due_occurrences([once], ms(2026, 11, 10, 8, 0))  # 00:00 UTC
    assert occ.local_date == dt.date(2026, 11, 10)
    assert occ.start_ms == ms(2026, 11, 10, 0, 0, tz=dt.UTC)
    assert occ.end_ms == ms(2026, 12, 1, 0, 0)  # end of the window, local midnight
    assert due_occurrences([once], ms(2026, 12, 1, 0, 0)) == []
    weekly = RuleSpec(2, "Asia/Shanghai", "06-01", "09-15", 7, 6)
    (occ,) = due_occurrences([weekly], ms(2026, 6, 16, 12, 0))
    assert occ.local_date == dt.date(2026, 6, 15)  # June 1, 8, 15, ...
    assert occ.end_ms == ms(2026, 6, 22, 6, 0)
    winter = RuleSpec(3, "UTC", "12-01", "02-28", 30, 9)  # wraps the new year
    (occ,) = due_occurrences([winter], ms(2027, 1, 5, 12, 0, tz=dt.UTC))
    assert occ.local_date == dt.date(2026, 12, 31)
    assert due_occurrences([winter], ms(2027, 3, 1, 12, 0, tz=dt.UTC)) == []


def test_run_calendar_twice_opens_nothing_twice_and_closed_work_stays_closed(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    assert client.post(f"{API}/sites", json={"id": "lakeside",
                                             "tz": "Asia/Shanghai"}).status_code == 201
    r = client.post(f"{API}/calendar/rules", json={
        "site": "lakeside", "work": "winter_watering", "start_md": "11-10", "end_md": "11-30",
        "contractor": "GreenCo", "priority": 2})
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["title"] == "winter watering before the freeze"
    r = client.post(f"{API}/calendar/rules", json={
        "site": "lakeside", "work": "drainage_round", "start_md": "06-01", "end_md": "09-15",
        "every_days": 7})
    assert r.status_code == 201
    now = ms(2026, 11, 12, 9, 0)
    first = client.post(f"{API}/calendar/run", json={"now_ms": now}).json()["opened"]
    assert [(o["rule_id"], o["local_date"]) for o in first] == [(rule["id"], "2026-11-10")]
    assert client.post(f"{API}/calendar/run", json={"now_ms": now + 60_000}).json()[
        "opened"] == []
    with sessions() as s:
        assert run_calendar(s, now + 120_000) == []
        task = crud.get_task(s, task_id=first[0]["task_id"])
        assert (task.kind, task.priority, task.contractor) == ("irrigate", 2, "GreenCo")
        assert task.due_ms == ms(2026, 12, 1, 0, 0)
        workflow.acknowledge_task(s, task.id, by="a")
        workflow.assign_task(s, task.id, by="a", owner="wang")
        workflow.start_task(s, task.id, by="wang")
        workflow.close_task(s, task.id, by="wang", note="watered", evidence=DONE)
        assert run_calendar(s, now + 180_000) == []  # closed: not opened again
    tasks = client.get(f"{API}/calendar/rules/{rule['id']}/tasks").json()
    assert [t["state"] for t in tasks] == ["closed"]
    # Next year the rule opens again.
    with sessions() as s:
        (again,) = run_calendar(s, ms(2027, 11, 10, 8, 30))
        assert again.local_date == dt.date(2027, 11, 10)


def test_pruning_must_stay_out_of_the_growing_season_and_presets_install(
        client: TestClient) -> None:
    client.post(f"{API}/sites", json={"id": "lakeside", "tz": "Asia/Shanghai"})
    r = client.post(f"{API}/calendar/rules", json={
        "site": "lakeside", "work": "pruning", "start_md": "03-01", "end_md": "05-01"})
    assert r.status_code == 422 and "growing season" in r.text
    assert client.post(f"{API}/calendar/rules", json={
        "site": "lakeside", "work": "pest_patrol", "start_md": "02-30",
        "end_md": "03-01"}).status_code == 422
    installed = client.post(f"{API}/calendar/rules/presets",
                            params={"site": "lakeside"}).json()
    assert {r["work"] for r in installed} == {
        "winter_watering", "whitewash", "freeze_protection", "drainage_round", "pruning",
        "pest_patrol", "irrigation_service"}
    assert client.post(f"{API}/calendar/rules/presets",
                       params={"site": "lakeside"}).json() == []


def test_work_records_pest_control_dose_and_pruning_approval(client: TestClient,
                                                             sessions: sessionmaker[Session]
                                                             ) -> None:
    client.post(f"{API}/sites", json={"id": "lakeside"})
    with sessions() as s:
        task = crud.create_task(s, site="lakeside", kind="prune", title="prune")
    url = f"{API}/tasks/{task.id}/work-records"
    ok = client.post(url, json={"kind": "pest_control", "by": "crew 2",
                                "product": "imidacloprid 10% WP", "dose": 1.5,
                                "dose_unit": "g/L", "target": "aphids"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["details"] == {"product": "imidacloprid 10% WP", "dose": 1.5,
                                    "dose_unit": "g/L", "target": "aphids"}
    no_dose = client.post(url, json={"kind": "pest_control", "by": "crew 2", "product": "x"})
    assert no_dose.status_code == 422 and "dose" in no_dose.text
    big = {"kind": "pruning", "by": "crew 2", "max_cut_diameter_cm": 14}
    refused = client.post(url, json=big)
    assert refused.status_code == 422 and "approval" in refused.text
    assert client.post(url, json={**big, "approval_ref": "GB-2026-118",
                                  "approved_by": "Chief Li"}).status_code == 201
    assert client.post(url, json={"kind": "pruning", "by": "crew 2",
                                  "max_cut_diameter_cm": 4}).status_code == 201
    assert client.post(url, json={"kind": "felling", "by": "crew 2"}).status_code == 422
    records = client.get(url).json()
    assert [r["kind"] for r in records] == ["pest_control", "pruning", "pruning"]
    notes = [h["note"] for h in client.get(f"{API}/tasks/{task.id}").json()["history"]]
    assert any("imidacloprid" in n for n in notes)


@pytest.mark.parametrize("at", ["2026-11-12T02:00:00"])
def test_cli_calendar_run_is_idempotent(data_dir: Path, at: str) -> None:
    assert cli(data_dir, "ledger", "import",
               str(Path(__file__).resolve().parents[2] / "deploy/sample-estate/estate.geojson")
               ).returncode == 0
    added = cli(data_dir, "calendar", "presets", "--site", "lakeside", "--contractor", "GreenCo")
    assert added.returncode == 0 and "winter_watering 11-10..11-30" in added.stdout
    first = cli(data_dir, "calendar", "run", "--at", at)
    assert first.returncode == 0, first.stderr
    # Nov 12 in Shanghai: winter watering (11-10..) and whitewash (11-01..) are running.
    assert "opened 2 task(s)" in first.stdout
    second = cli(data_dir, "calendar", "run", "--at", at)
    assert "opened 0 task(s)" in second.stdout


def test_drainage_rounds_are_the_rainy_season_waterlogging_is_judged_in(
        client: TestClient, sessions: sessionmaker[Session]) -> None:
    """The site's drainage_round windows (whole site, or one zone), set through the API, are
    each zone's ``rainy_season`` in the analytics context; disabled rules do not count."""
    from greeniot.registry.calendar import set_rule_enabled
    from greeniot.registry.context import load_context

    assert client.post(f"{API}/sites", json={"id": "riverside",
                                             "tz": "Asia/Shanghai"}).status_code == 201
    for z in ("z1", "z2"):
        r = client.post(f"{API}/zones", json={"site": "riverside", "id": z})
        assert r.status_code == 201, r.text
    rules = [client.post(f"{API}/calendar/rules", json=body).json() for body in (
        {"site": "riverside", "work": "drainage_round", "start_md": "06-01",
         "end_md": "09-15", "every_days": 7},
        {"site": "riverside", "work": "drainage_round", "start_md": "04-15",
         "end_md": "05-31", "zone": "z2"},
        {"site": "riverside", "work": "drainage_round", "start_md": "10-01",
         "end_md": "10-31"},
        {"site": "riverside", "work": "pest_patrol", "start_md": "04-01",
         "end_md": "10-31", "every_days": 14})]
    with sessions() as s:
        set_rule_enabled(s, rules[2]["id"], False)
        s.commit()
        ctx = load_context(s, sites=["riverside"])
    season = {z.zone: z.rainy_season for z in ctx.zones}
    assert season == {"z1": (("06-01", "09-15"),),
                      "z2": (("06-01", "09-15"), ("04-15", "05-31"))}
