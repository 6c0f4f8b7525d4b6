"""Alert delivery on real parts: a signed webhook to a local HTTP server, e-mail through
apprise's ``mailto://`` to a local SMTP server, MQTT through the real Mosquitto; retries, the
per-recipient rate limit that folds a storm into a digest, resume after a restart, and the
delivery state of each (alert, recipient) in the registry."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session

from greeniot.actions.lifecycle import SlaJob, alert_message, clear_condition
from greeniot.actions.sinks.dispatcher import AlertDispatcher
from greeniot.actions.sinks.queue import Backoff
from greeniot.actions.sinks.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    encode_items,
    sign,
    verify,
)
from greeniot.config import DeliverySettings, MqttSettings
from greeniot.protocol import Alert
from greeniot.registry import crud
from greeniot.registry.schemas import SiteCreate
from greeniot.services import MosquittoProcess, free_port
from greeniot.transport.mqtt import MqttSession
from tests.actions.conftest import T0_MS
from tests.actions.receivers import BlackHole, MailBox, WebhookReceiver

SECRET = "s3cret-for-tests-0123456789"
FAST = DeliverySettings(max_attempts=50, backoff_base_s=0.05, backoff_cap_s=0.2, timeout_s=2.0,
                        rate_max=100, rate_window_s=60)
T = TypeVar("T")
Sessions = Callable[[], Session]


async def until(fn: Callable[[], T], what: str, timeout_s: float = 20.0) -> T:
    """Poll ``fn`` (in a thread: it may read the registry) until truthy, or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; "
                                 f"last={value!r}")
        await asyncio.sleep(0.05)


def raise_alarm(sessions: Sessions, n: int = 0, severity: str = "warning",
                site: str = "estate-a", **kw: Any) -> Alert:
    """An alarm recorded in the real registry, as the executor records it."""
    with sessions() as s:
        change = crud.raise_alarm(s, **({
            "site": site, "kind": "lean", "severity": severity,
            "message": f"t{n} leans 0.{n + 5} deg", "ts_ms": T0_MS + n, "tree": f"t{n}",
            "value": 0.5, "dedup_key": f"lean:{site}:t{n}", "now_ms": T0_MS + n} | kw))
        return alert_message(change.alert)


def deliveries(sessions: Sessions, **kw: Any) -> list[Any]:
    with sessions() as s:
        return list(crud.list_deliveries(s, **kw))


def add_route(sessions: Sessions, **kw: Any) -> None:
    with sessions() as s:
        crud.add_route(s, **kw)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())


# --- the signature, on its own ----------------------------------------------------------------

def test_signature_verifies_and_refuses_tampering_replay_and_missing_headers() -> None:
    body = b'{"v":1}'
    headers = {TIMESTAMP_HEADER: "1700000000", SIGNATURE_HEADER: sign(SECRET, 1700000000, body)}
    assert verify(SECRET, body, headers, now_s=1700000100) == 1700000000
    lower = {k.lower(): v for k, v in headers.items()}  # header names are case-insensitive
    assert verify(SECRET, body, lower, now_s=1700000000) == 1700000000
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, b'{"v":2}', headers, now_s=1700000000)
    with pytest.raises(SignatureError, match="does not match"):
        verify("another-secret-0123456789", body, headers, now_s=1700000000)
    with pytest.raises(SignatureError, match="outside the replay window of 300 s"):
        verify(SECRET, body, headers, now_s=1700000000 + 301)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, body, {TIMESTAMP_HEADER: "1700000000"}, now_s=1700000000)
    with pytest.raises(SignatureError, match="not an integer"):
        verify(SECRET, body, headers | {TIMESTAMP_HEADER: "soon"}, now_s=1700000000)
    # a rotated key: the header may carry several signatures
    rotated = {**headers, SIGNATURE_HEADER: "v1=00ff," + headers[SIGNATURE_HEADER]}
    assert verify(SECRET, body, rotated, now_s=1700000000) == 1700000000


def test_backoff_is_capped_full_jitter() -> None:
    rng = random.Random(7)
    b = Backoff(base_s=1.0, cap_s=30.0)
    for attempt, bound in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (40, 30.0)):
        delays = [b.delay_s(attempt, rng) for _ in range(400)]
        assert min(delays) >= 0 and max(delays) <= bound
        assert max(delays) > 0.8 * bound  # spread over the whole range, not a fixed step


# --- webhook ----------------------------------------------------------------------------------

def test_dead_webhook_is_retried_failed_then_delivered_with_a_valid_signature(
        sessions: Sessions, receiver_port: int, receivers: list[Any]) -> None:
    add_route(sessions, name="ops-hook", kind="webhook", target=f"http://127.0.0.1:"
              f"{receiver_port}/hook", secret=SECRET, site="estate-a")
    alert = raise_alarm(sessions, severity="critical")
    hook = WebhookReceiver(SECRET, receiver_port)

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            dispatcher.submit(alert)  # nothing listens on the port yet
            failed = await until(lambda: [d for d in deliveries(sessions, alert_id=alert.id)
                                          if d.state == "failed" and d.attempts >= 2],
                                 "failed attempts against a dead webhook")
            assert "ConnectError" in failed[0].last_error
            receivers.append(hook.start())
            await until(lambda: deliveries(sessions, state="delivered"), "the delivery")

    run(main)
    (row,) = deliveries(sessions, alert_id=alert.id)
    assert (row.recipient, row.kind, row.phase, row.state) == (
        "route:ops-hook", "webhook", "raised", "delivered")
    assert [e["ok"] for e in row.log][-1] is True and not any(e["ok"] for e in row.log[:-1])
    assert row.attempts == len(row.log) >= 3
    (got,) = hook.got
    assert got.verified, got.error
    assert got.headers["X-Greeniot-Delivery"] == str(row.id)
    item = got.json["items"][0]
    assert got.json["digest"] is False
    assert (item["ref"], item["phase"], item["alert"]["id"], item["alert"]["severity"]) == (
        f"alert:{alert.id}:critical", "raised", alert.id, "critical")
    # a route naming no language reads the estates' default, Simplified Chinese
    assert (item["title"], item["locale"]) == ("【严重】estate-a 树木 t0：倾斜", "zh_Hans")


def test_a_permanent_refusal_is_given_up_not_retried(sessions: Sessions, receiver_port: int,
                                                     receivers: list[Any]) -> None:
    hook = WebhookReceiver(SECRET, receiver_port, status=410).start()
    receivers.append(hook)
    add_route(sessions, name="gone", kind="webhook", target=hook.url, secret=SECRET)
    alert = raise_alarm(sessions)

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            dispatcher.submit(alert)
            await until(lambda: deliveries(sessions, state="gave_up"), "gave up")

    run(main)
    (row,) = deliveries(sessions)
    assert row.attempts == 1 and "answered 410" in row.last_error and len(hook.got) == 1


def test_a_stuck_receiver_holds_up_neither_the_caller_nor_other_recipients(
        sessions: Sessions, receiver_port: int, receivers: list[Any]) -> None:
    hole = BlackHole()
    receivers.append(hole)
    good = WebhookReceiver(SECRET, receiver_port).start()
    receivers.append(good)
    add_route(sessions, name="stuck", kind="webhook", target=f"http://127.0.0.1:{hole.port}/x",
              secret=SECRET)
    add_route(sessions, name="good", kind="webhook", target=good.url, secret=SECRET)
    alerts = [raise_alarm(sessions, n) for n in range(5)]
    slow = FAST.model_copy(update={"timeout_s": 30.0})

    async def main() -> None:
        async with AlertDispatcher(sessions, slow, flush_s=0.1) as dispatcher:
            for a in alerts:
                dispatcher.submit(a)
            await until(lambda: len(good.got) == 5, "all five at the good receiver")
            assert not dispatcher.idle  # the stuck one is still waiting for its answer

    run(main)
    assert sorted(r.json["items"][0]["alert"]["id"] for r in good.got) == sorted(
        a.id for a in alerts)
    states = {(d.recipient, d.state) for d in deliveries(sessions)}
    assert states == {("route:good", "delivered"), ("route:stuck", "queued")}


def test_a_storm_folds_into_a_digest_within_the_rate_limit(
        sessions: Sessions, receiver_port: int, receivers: list[Any]) -> None:
    add_route(sessions, name="crew-phone", kind="webhook", site="estate-a", secret=SECRET,
              target=f"http://127.0.0.1:{receiver_port}/hook", rate_max=2, rate_window_s=2)
    storm = [raise_alarm(sessions, n) for n in range(6)]
    hook = WebhookReceiver(SECRET, receiver_port)

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            for a in storm:
                dispatcher.submit(a)
            # the receiver is down until all six are planned: they queue behind the first
            await until(lambda: len(deliveries(sessions)) == 6, "six planned deliveries")
            receivers.append(hook.start())
            await until(lambda: len(hook.got) == 2, "two messages")
            late = raise_alarm(sessions, 9)
            dispatcher.submit(late)  # no room left in this window: held, then sent
            await until(lambda: len(hook.got) == 3, "the late one after the window", 10)

    run(main)
    first, digest, after = (r.json for r in hook.got)
    assert all(r.verified for r in hook.got)
    assert (first["digest"], len(first["items"])) == (False, 1)
    assert (digest["digest"], len(digest["items"])) == (True, 5)
    sent = [i["alert"]["id"] for m in (first, digest) for i in m["items"]]
    assert sorted(sent) == sorted(a.id for a in storm)  # nothing lost, nothing twice
    assert len(after["items"]) == 1
    rows = deliveries(sessions)
    assert all(d.state == "delivered" for d in rows)
    assert sum(d.in_digest for d in rows) == 5
    late_row = rows[-1]
    assert [("held" in e, e.get("ok")) for e in late_row.log] == [(True, None), (False, True)]


def test_unfinished_deliveries_resume_after_a_restart(sessions: Sessions, receiver_port: int,
                                                      receivers: list[Any]) -> None:
    add_route(sessions, name="ops-hook", kind="webhook", secret=SECRET,
              target=f"http://127.0.0.1:{receiver_port}/hook")
    alert = raise_alarm(sessions)

    async def first_run() -> None:
        async with AlertDispatcher(sessions, FAST, flush_s=0.2) as dispatcher:
            dispatcher.submit(alert)
            await until(lambda: deliveries(sessions, state="failed"), "a failed attempt")

    async def second_run() -> None:
        hook = WebhookReceiver(SECRET, receiver_port).start()
        receivers.append(hook)
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            assert dispatcher.submitted == 0  # nothing submitted in this run: resumed
            await until(lambda: len(hook.got) == 1, "the resumed delivery")
            dispatcher.submit(alert)  # the same alert again: already delivered, not twice
            assert await dispatcher.drain(5)
        assert len(hook.got) == 1

    run(first_run)
    run(second_run)
    (row,) = deliveries(sessions)
    assert row.state == "delivered" and row.attempts >= 2


# --- e-mail through apprise -------------------------------------------------------------------

def test_email_through_apprise_mailto_reaches_a_local_smtp_server(
        sessions: Sessions, receivers: list[Any]) -> None:
    box = MailBox(free_port()).start()
    receivers.append(box)
    add_route(sessions, name="duty-mail", kind="apprise", target=box.url("duty@example.org"),
              site="estate-a", min_severity="critical", locale="en", tz="Europe/London")
    warning = raise_alarm(sessions, 1, severity="warning")
    critical = raise_alarm(sessions, 2, severity="critical")
    other_site = raise_alarm(sessions, 3, severity="critical", site="estate-b")

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            for a in (warning, critical, other_site):
                dispatcher.submit(a)
            await until(lambda: box.messages, "the mail")
            assert await dispatcher.drain(10)

    run(main)
    (mail,) = box.mails()  # only the critical alert of estate-a matches the route
    assert mail.to == ["duty@example.org"]
    assert mail.subject == "[CRITICAL] lean: tree t2 at estate-a"
    assert f"Alarm {critical.id}" in mail.text
    (row,) = deliveries(sessions)
    assert (row.alert_id, row.recipient, row.state) == (critical.id, "route:duty-mail",
                                                         "delivered")


# --- MQTT, escalation and clear ---------------------------------------------------------------

def test_mqtt_escalation_and_clear_each_notified_once(sessions: Sessions, mosquitto:
                                                      MosquittoProcess, observe,
                                                      site_id: str) -> None:
    obs = observe([f"greeniot/v1/{site_id}/alerts"])

    async def main() -> None:
        async with MqttSession(MqttSettings(port=mosquitto.port), "test-delivery",
                               clean_session=True) as mqtt, \
                AlertDispatcher(sessions, FAST, publish=mqtt.send) as dispatcher:
            first = raise_alarm(sessions, site=site_id, severity="warning")
            dispatcher.submit(first)
            dispatcher.submit(raise_alarm(sessions, site=site_id, severity="warning"))
            worse = raise_alarm(sessions, site=site_id, severity="critical", ts_ms=T0_MS + 9)
            dispatcher.submit(worse)
            assert await dispatcher.drain(10)
            cleared = await clear_condition(sessions, dispatcher, key=f"lean:{site_id}:t0",
                                            ts_ms=T0_MS + 60_000, note="lean back below 0.25")
            assert cleared is not None and cleared.id == first.id
            assert await dispatcher.drain(10)

    run(main)
    rows = deliveries(sessions)
    # the plain repeat is the same ref as the first notice: not delivered twice
    assert [(d.phase, d.ref.split(":")[-1], d.state) for d in rows] == [
        ("raised", "warning", "delivered"), ("escalated", "critical", "delivered"),
        ("cleared", "cleared", "delivered")]
    assert {d.recipient for d in rows} == {f"mqtt:{site_id}"}
    got = [json.loads(m.payload) for m in obs.on("/alerts")]
    assert [g["severity"] for g in got] == ["warning", "critical", "critical"]
    with sessions() as s:
        alarm = crud.get_alert(s, alert_id=rows[0].alert_id)
        assert (alarm.state, alarm.clear_note, alarm.cleared_ms) == (
            "cleared", "lean back below 0.25", T0_MS + 60_000)


# --- SLA escalation notifies the next person ----------------------------------------------------

def test_sla_job_mails_the_next_person_on_the_chain(sessions: Sessions,
                                                    receivers: list[Any]) -> None:
    box = MailBox(free_port()).start()
    receivers.append(box)
    with sessions() as s:
        crud.create_site(s, data=SiteCreate(id="estate-a"))
        crud.add_person(s, site="estate-a", name="Lee", role="crew",
                        notify_url=box.url("lee@example.org"))
        crud.add_person(s, site="estate-a", name="GreenCo", role="contractor",
                        notify_url=box.url("dispatch@greenco.example"))
        task, _ = crud.ensure_task(s, site="estate-a", kind="remove", title="remove tree t16",
                                   tree="t16", priority=1, dedup_key="remove:estate-a:t16",
                                   sla_ms={1: 60_000, 2: 1, 3: 1, 4: 1, 5: 1}, now_ms=T0_MS)
    assert task.owner == "Lee"
    now = [T0_MS + 30_000]

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            job = SlaJob(sessions, dispatcher, clock=lambda: now[0],
                         sla_ms={1: 60_000, 2: 1, 3: 1, 4: 1, 5: 1})
            assert await job.run_once() == []
            now[0] = T0_MS + 90_000
            (esc,) = await job.run_once()
            assert (esc.to_person, esc.to_role) == ("GreenCo", "contractor")
            await until(lambda: box.messages, "the escalation mail")
            assert await dispatcher.drain(10)

    run(main)
    (mail,) = box.mails()
    assert mail.to == ["dispatch@greenco.example"]
    # GreenCo names no language and has no account: the default, Chinese
    assert mail.subject == f"【超时】任务 #{task.id} 清理倒伏树木 t16 P1 已超期 30秒钟"
    (row,) = deliveries(sessions, task_id=task.id)
    assert (row.recipient, row.phase, row.ref, row.state) == (
        "person:estate-a:GreenCo", "sla", f"task:{task.id}:sla:1", "delivered")


def test_webhook_body_is_what_was_signed() -> None:
    alert = Alert(id="a-1", ts_ms=T0_MS, site="s", kind="lean", severity="info", message="m")
    from greeniot.actions.sinks.dispatcher import alert_notification
    body = encode_items([alert_notification(alert, "raised")])
    assert json.loads(body)["items"][0]["alert"] == {
        "v": 1, "id": "a-1", "ts_ms": T0_MS, "site": "s", "kind": "lean", "severity": "info",
        "message": "m"}


def test_mail_server_down_is_failed_with_apprises_reason_then_delivered(
        sessions: Sessions, receivers: list[Any]) -> None:
    port = free_port()
    box = MailBox(port)
    add_route(sessions, name="duty-mail", kind="apprise", target=box.url("duty@example.org"))
    alert = raise_alarm(sessions, severity="critical")

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            dispatcher.submit(alert)
            (row,) = await until(lambda: deliveries(sessions, state="failed"), "a failure")
            assert row.last_error.startswith("apprise mailto://")
            receivers.append(box.start())
            await until(lambda: box.messages, "the mail once the server is up")
            assert await dispatcher.drain(10)

    run(main)
    (row,) = deliveries(sessions)
    assert row.state == "delivered" and row.log[0]["ok"] is False and row.log[-1]["ok"]


def test_the_person_holding_a_task_hears_of_its_alerts_without_a_route(
        sessions: Sessions, receivers: list[Any]) -> None:
    box = MailBox(free_port()).start()
    receivers.append(box)
    with sessions() as s:
        crud.create_site(s, data=SiteCreate(id="estate-a"))
        crud.add_person(s, site="estate-a", name="Lee", role="crew",
                        notify_url=box.url("lee@example.org"))
        task, _ = crud.ensure_task(s, site="estate-a", kind="stabilize", title="stake t3",
                                   tree="t3", priority=1, dedup_key="stabilize:estate-a:t3",
                                   now_ms=T0_MS)
    alert = raise_alarm(sessions, 3, severity="critical", task_id=task.id,
                        dedup_key="stabilize:estate-a:t3")

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            dispatcher.submit(alert)
            await until(lambda: box.messages, "Lee's mail")
            assert await dispatcher.drain(10)

    run(main)
    (mail,) = box.mails()
    assert mail.to == ["lee@example.org"] and f"任务 #{task.id}：" in mail.text
    (row,) = deliveries(sessions)
    assert (row.recipient, row.alert_id, row.task_id, row.state) == (
        "person:estate-a:Lee", alert.id, task.id, "delivered")
