"""Contractor scores from task times set by hand, checked against the documented rules."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.clock import MS_PER_HOUR as H
from greeniot.registry import crud, workflow
from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.complaints import ComplaintCreate, file_complaint
from tests.estate.conftest import API, cli

#: close-out evidence (required by the workflow)
DONE = [{"kind": "text", "value": "done as noted"}]

T0 = wall_clock_ms() - 30 * 24 * H  # well over 200 h ago: overdue is overdue at report time
MONTH = dt.datetime.fromtimestamp(T0 / 1000, dt.UTC).strftime("%Y-%m")


def run_task(s: Session, task_id: int, contractor: str, *, start_h: float,
             close_h: float | None) -> None:
    task = crud.get_task(s, task_id=task_id)
    task.contractor = contractor
    s.commit()
    if task.state == "open":
        workflow.acknowledge_task(s, task_id, by="x", now_ms=T0)
        workflow.assign_task(s, task_id, by="x", owner="o", now_ms=T0)
    workflow.start_task(s, task_id, by="o", now_ms=T0 + int(start_h * H))
    if close_h is not None:
        workflow.close_task(s, task_id, by="o", note="done", evidence=DONE,
                            now_ms=T0 + int(close_h * H))


@pytest.fixture
def scored(client: TestClient, sessions: sessionmaker[Session]) -> None:
    client.post(f"{API}/sites", json={"id": "lakeside"})
    client.post(f"{API}/trees", json={"site": "lakeside", "id": "t2"})
    with sessions() as s:
        t1 = crud.create_task(s, site="lakeside", kind="inspect", title="t1", dedup_key="k1",
                              now_ms=T0)
        run_task(s, t1.id, "GreenCo", start_h=1, close_h=20)  # SLA (72 h at priority 3) hit
        # The hotline opens this one and assigns it to the site's responsible person, "o".
        c, _ = file_complaint(s, ComplaintCreate(site="lakeside", channel="app",
                                                 category="pests", tree="t2"), now_ms=T0)
        assert crud.get_task(s, task_id=int(c.task_id or 0)).owner == "o"
        run_task(s, int(c.task_id or 0), "GreenCo", start_h=3, close_h=None)
        # A resident calls again while it is open: a complaint against the contractor.
        file_complaint(s, ComplaintCreate(site="lakeside", channel="hotline_12345",
                                          category="pests", tree="t2"), now_ms=T0 + 50 * H)
        workflow.close_task(s, int(c.task_id or 0), by="o", note="sprayed", evidence=DONE,
                            now_ms=T0 + 100 * H)  # SLA missed
        t3 = crud.create_task(s, site="lakeside", kind="prune", title="t3", now_ms=T0)
        run_task(s, t3.id, "GreenCo", start_h=5, close_h=None)  # still open, past due
        # t1's condition comes back 10 h after its close-out: a reopen.
        crud.create_task(s, site="lakeside", kind="inspect", title="t1 again",
                         dedup_key="k1", now_ms=T0 + 30 * H)
        t5 = crud.create_task(s, site="lakeside", kind="drain", title="t5", now_ms=T0)
        run_task(s, t5.id, "BlueLeaf", start_h=1, close_h=10)


def expected_greenco() -> float:
    response = 20 * (24 - 3) / (24 - 2)  # median of 1, 3 and 5 h to start work
    closeout = 20.0  # median close-out 60 h <= 72 h
    sla = 30 * 0.5  # 1 of 2 closed in time
    reopen = 10 * (1 - 0.5)  # t1 reopened
    complaints = 10 - 2.5
    overdue = 10 - 2.5
    return round(response + closeout + sla + reopen + complaints + overdue, 1)


def test_score_table_by_the_documented_rules(client: TestClient, scored: None) -> None:
    rows = client.get(f"{API}/contractors/scores", params={"month": MONTH}).json()
    by = {r["contractor"]: r for r in rows}
    g = by["GreenCo"]
    assert (g["tasks"], g["closed"], g["response_h"], g["closeout_h"]) == (3, 2, 3.0, 60.0)
    assert (g["sla_hit_pct"], g["reopen_pct"], g["complaints"], g["overdue"]) == (
        50.0, 50.0, 1, 1)
    assert g["score"] == expected_greenco() == 74.1
    assert by["BlueLeaf"]["score"] == 100.0
    assert [r["contractor"] for r in rows] == ["BlueLeaf", "GreenCo"]  # best first
    rules = client.get(f"{API}/contractors/rules").json()
    assert sum(r["points"] for r in rules) == 100
    text = client.get(f"{API}/contractors/scores",
                      params={"month": MONTH, "format": "csv"}).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert {r["contractor"]: float(r["score"]) for r in table} == {"BlueLeaf": 100.0,
                                                                  "GreenCo": 74.1}
    assert client.get(f"{API}/contractors/scores", params={"month": "1999-01"}).json() == []


def test_cli_score_prints_the_table_and_writes_csv(scored: None, data_dir: Path,
                                                    tmp_path: Path) -> None:
    out_csv = tmp_path / "scores.csv"
    out = cli(data_dir, "contractors", "score", "--month", MONTH, "--csv", str(out_csv))
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("GreenCo"))
    assert line.split()[-1] == "74.1"
    assert "BlueLeaf" in out_csv.read_text()
