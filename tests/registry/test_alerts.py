"""Alerts: one per ongoing problem (dedup until cleared), filters, acknowledgement."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from greeniot.registry import crud
from greeniot.registry.errors import InvalidInputError, NotFoundError
from tests.registry.conftest import T0

KEY = "lean:estate-a:t1"


def _raise(session: Session, **kw: Any) -> Any:
    fields: dict[str, Any] = {"site": "estate-a", "kind": "lean", "severity": "warning",
                              "message": "t1 leans 0.6°", "ts_ms": T0, "tree": "t1",
                              "value": 0.6, "dedup_key": KEY, "now_ms": T0 + 1}
    return crud.ensure_alert(session, **(fields | kw))


def test_repeats_fold_into_one_alert_until_cleared(session: Session) -> None:
    first, created = _raise(session)
    assert created and first.id.startswith("a-") and first.count == 1
    _raise(session, ts_ms=T0 + 60_000, severity="critical", message="t1 leans 1.9°", value=1.9)
    # a late, buffered repeat: counted, but neither the time nor the latest value go back
    again, created = _raise(session, ts_ms=T0 + 30_000, severity="info", message="old",
                            value=0.7)
    assert not created and again.id == first.id
    assert (again.count, again.ts_ms, again.last_ts_ms) == (3, T0, T0 + 60_000)
    assert (again.severity, again.message, again.value) == ("critical", "t1 leans 1.9°", 1.9)
    assert len(crud.list_alerts(session)) == 1

    acked = crud.acknowledge_alert(session, alert_id=first.id, by="ops", now_ms=T0 + 70_000)
    assert (acked.acknowledged, acked.ack_by, acked.ack_ms) == (True, "ops", T0 + 70_000)
    # acknowledging again keeps the first acknowledgement
    assert crud.acknowledge_alert(session, alert_id=first.id, by="other").ack_by == "ops"
    # an acknowledged alarm is still live: a repeat folds into it
    same, created = _raise(session, ts_ms=T0 + 75_000)
    assert not created and same.id == first.id and same.count == 4
    crud.clear_alarm(session, key=KEY, at_ms=T0 + 78_000, note="re-staked", by="ops")
    fresh, created = _raise(session, ts_ms=T0 + 80_000)
    assert created and fresh.id != first.id and fresh.count == 1


def test_alerts_without_key_are_never_merged(session: Session) -> None:
    a = crud.ensure_alert(session, site="estate-a", kind="storm", severity="info",
                         message="storm", ts_ms=T0)[0]
    b = crud.ensure_alert(session, site="estate-a", kind="storm", severity="info",
                         message="storm", ts_ms=T0)[0]
    assert a.id != b.id


def test_repeat_links_a_task_once(estate: Session) -> None:
    task = crud.ensure_task(estate, site="estate-a", kind="inspect", title="t1")[0]
    _raise(estate)
    assert _raise(estate, task_id=task.id)[0].task_id == task.id
    assert _raise(estate, task_id=None)[0].task_id == task.id


def test_list_filters_and_order(session: Session) -> None:
    old = _raise(session, dedup_key="k1", ts_ms=T0, severity="info")[0]
    new = _raise(session, dedup_key="k2", ts_ms=T0 + 5, severity="critical")[0]
    other = _raise(session, dedup_key="k3", site="estate-b", ts_ms=T0 + 9)[0]
    crud.acknowledge_alert(session, alert_id=old.id, by="ops")

    def ids(**kw: Any) -> list[str]:
        return [a.id for a in crud.list_alerts(session, **kw)]

    assert ids() == [other.id, new.id, old.id]
    assert ids(site="estate-a") == [new.id, old.id]
    assert ids(severity="critical") == [new.id]
    assert ids(acknowledged=True) == [old.id]
    assert ids(acknowledged=False, site="estate-a") == [new.id]
    assert ids(kind="storm") == []


def test_bad_severity_unknown_alert_and_missing_who(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="severity 'urgent'"):
        _raise(session, severity="urgent")
    with pytest.raises(NotFoundError, match="alert 'a-nope' not found"):
        crud.acknowledge_alert(session, alert_id="a-nope", by="ops")
    alert = _raise(session)[0]
    with pytest.raises(InvalidInputError, match="who acknowledges"):
        crud.acknowledge_alert(session, alert_id=alert.id, by="")
