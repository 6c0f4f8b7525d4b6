"""Alarm lifecycle in the registry: raised → (escalated) → acknowledged → cleared, one live
alarm per key, automatic clears on event time, clears by subject."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from greeniot.registry import crud
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Alert
from tests.registry.conftest import T0

KEY = "stabilize:estate-a:t1"


def _raise(session: Session, **kw: Any) -> crud.AlarmChange:
    return crud.raise_alarm(session, **({
        "site": "estate-a", "kind": "lean_step", "severity": "warning", "message": "t1 0.6°",
        "ts_ms": T0, "tree": "t1", "device": "tilt-t1", "dedup_key": KEY} | kw))


def test_raise_repeat_escalate_acknowledge_clear_and_a_new_alarm(session: Session) -> None:
    first = _raise(session)
    assert (first.phase, first.notify, first.alert.state) == ("raised", True, "active")
    assert _raise(session, ts_ms=T0 + 1).phase == "repeat"
    assert not _raise(session, ts_ms=T0 + 2).notify
    worse = _raise(session, severity="critical", message="t1 1.2°", ts_ms=T0 + 3)
    assert (worse.phase, worse.alert.id, worse.alert.severity) == ("escalated", first.alert.id,
                                                                   "critical")
    acked = crud.acknowledge_alarm(session, alert_id=first.alert.id, by="ops", note="on it",
                                   now_ms=T0 + 10)
    assert (acked.state, acked.acknowledged) == ("acknowledged", True)
    # still live: a repeat folds in, and the alarm stays acknowledged
    repeat = _raise(session, ts_ms=T0 + 11).alert
    assert (repeat.id, repeat.state) == (first.alert.id, "acknowledged")
    cleared = crud.clear_alarm(session, key=KEY, at_ms=T0 + 20, note="re-staked", by="Chan")
    assert cleared is not None
    assert (cleared.state, cleared.cleared_ms, cleared.cleared_by, cleared.clear_note,
            cleared.count) == ("cleared", T0 + 20, "Chan", "re-staked", 5)
    assert [(h.from_state, h.to_state, h.severity, h.by, h.note) for h in cleared.history] == [
        (None, "active", "warning", "system", "t1 0.6°"),
        ("active", "active", "critical", "system",
         "escalated warning -> critical (occurrence 4): t1 1.2°"),
        ("active", "acknowledged", "critical", "ops", "on it"),
        ("acknowledged", "cleared", "critical", "Chan", "re-staked")]
    fresh = _raise(session, ts_ms=T0 + 30)
    assert fresh.phase == "raised" and fresh.alert.id != first.alert.id
    assert [a.state for a in crud.list_alerts(session, state="cleared")] == ["cleared"]


def test_clear_by_id_needs_a_note_and_who_and_is_idempotent(session: Session) -> None:
    alert = _raise(session).alert
    with pytest.raises(InvalidInputError, match="needs a note"):
        crud.clear_alarm(session, alert_id=alert.id, note=" ", by="ops")
    with pytest.raises(InvalidInputError, match="needs 'by'"):
        crud.clear_alarm(session, alert_id=alert.id, note="done", by="")
    with pytest.raises(InvalidInputError, match="either key or alert_id"):
        crud.clear_alarm(session, note="done", by="ops")
    with pytest.raises(NotFoundError, match="a-nope"):
        crud.clear_alarm(session, alert_id="a-nope", note="done", by="ops")
    assert crud.clear_alarm(session, key="no:such:key", note="done", by="ops") is None
    done = crud.clear_alarm(session, alert_id=alert.id, note="done", by="ops", at_ms=T0 + 5)
    again = crud.clear_alarm(session, alert_id=alert.id, note="later", by="x", at_ms=T0 + 9)
    assert again is done and (again.clear_note, again.cleared_ms) == ("done", T0 + 5)
    with pytest.raises(ConflictError, match="is cleared"):
        crud.acknowledge_alarm(session, alert_id=alert.id, by="ops")


def test_an_automatic_clear_older_than_the_last_occurrence_is_ignored(session: Session) -> None:
    _raise(session, ts_ms=T0 + 100)
    assert crud.clear_condition(session, key=KEY, ts_ms=T0 + 50) is None  # came back since
    cleared = crud.clear_condition(session, key=KEY, ts_ms=T0 + 200, note="tilt back <0.25°")
    assert cleared is not None and cleared.cleared_by == "system"
    assert cleared.clear_note == "tilt back <0.25°"


def test_clear_subject_clears_the_kinds_of_one_subject_only(session: Session) -> None:
    a = _raise(session).alert
    b = _raise(session, kind="lean", dedup_key="inspect:estate-a:t1").alert
    c = _raise(session, kind="low_battery", dedup_key="device_check:estate-a:tilt-t1").alert
    d = _raise(session, tree="t2", dedup_key="stabilize:estate-a:t2").alert
    late = _raise(session, kind="lean_trend", dedup_key="x:t1", ts_ms=T0 + 999).alert
    with pytest.raises(InvalidInputError, match="name the tree"):
        crud.clear_subject(session, site="estate-a", ts_ms=T0 + 10)
    cleared = crud.clear_subject(session, site="estate-a", tree="t1", ts_ms=T0 + 10,
                                 kinds=["lean", "lean_step", "lean_trend"], note="calm")
    assert sorted(x.id for x in cleared) == sorted([a.id, b.id])
    live = {x.id for x in crud.list_alerts(session) if x.state == "active"}
    assert live == {c.id, d.id, late.id}


def test_database_holds_one_live_alarm_per_key(session: Session) -> None:
    _raise(session)
    session.add(Alert(id="a-dup", site="estate-a", ts_ms=T0, last_ts_ms=T0, count=1,
                      kind="lean_step", severity="warning", message="dup", acknowledged=False,
                      dedup_key=KEY, created_ms=T0, state="acknowledged"))
    with pytest.raises(IntegrityError, match="dedup_key"):
        session.commit()
    session.rollback()
