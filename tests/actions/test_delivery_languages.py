"""Notifications in each recipient's language and time zone, through the real dispatcher to a
local HTTP receiver (signed webhooks) and a local SMTP server (aiosmtpd, apprise ``mailto://``):
a zh_Hans crew member reads Chinese in Shanghai time, an English contractor and desk read
English in London time; the alert's structured fields are the same for everyone.

The estate: site ``estate-a`` (Asia/Shanghai); user ``li`` (zh_Hans, Asia/Shanghai) is the
site's crew on the roster, user ``sam`` (en, Europe/London) its contractor. ``T0_MS`` is
2026-11-24 08:58 UTC: 16:58 in Shanghai, 8:58 AM in London.
"""

from __future__ import annotations

from typing import Any

from greeniot.actions.lifecycle import ManualClearJob, SlaJob, clear_condition
from greeniot.actions.sinks.dispatcher import AlertDispatcher
from greeniot.clock import wall_ms
from greeniot.registry import accounts, crud
from greeniot.registry.schemas import SiteCreate
from greeniot.services import free_port
from tests.actions.conftest import T0_MS
from tests.actions.receivers import MailBox, WebhookReceiver
from tests.actions.test_delivery import (
    FAST,
    SECRET,
    Sessions,
    add_route,
    deliveries,
    raise_alarm,
    run,
    until,
)

SLA = {1: 3_600_000, 2: 1, 3: 1, 4: 1, 5: 1}


def estate(sessions: Sessions, box: MailBox) -> int:
    """The site, two accounts, their roster entries and li's P1 task on tree t3; its id."""
    with sessions() as s:
        crud.create_site(s, data=SiteCreate(id="estate-a", tz="Asia/Shanghai"))
        accounts.create_user(s, username="li", role="crew", password="banyan-2026",
                             locale="zh_Hans", tz="Asia/Shanghai", sites=["estate-a"])
        accounts.create_user(s, username="sam", role="operator", password="banyan-2026",
                             locale="en", tz="Europe/London")
        crud.add_person(s, site="estate-a", name="li", role="crew",
                        notify_url=box.url("li@example.org"))
        crud.add_person(s, site="estate-a", name="sam", role="contractor",
                        notify_url=box.url("sam@example.org"))
        task, _ = crud.ensure_task(s, site="estate-a", kind="stabilize", title="stabilize t3",
                                   tree="t3", priority=1, dedup_key="stabilize:estate-a:t3",
                                   sla_ms=SLA, now_ms=T0_MS)
        assert task.owner == "li"
        return task.id


def test_an_alarm_reaches_each_reader_in_their_language_and_zone(
        sessions: Sessions, receivers: list[Any]) -> None:
    box = MailBox(free_port()).start()
    en_hook = WebhookReceiver(SECRET, free_port()).start()
    zh_hook = WebhookReceiver(SECRET, free_port()).start()
    receivers += [box, en_hook, zh_hook]
    task_id = estate(sessions, box)
    add_route(sessions, name="en-desk", kind="webhook", target=en_hook.url, secret=SECRET,
              site="estate-a", locale="en", tz="Europe/London")
    add_route(sessions, name="zh-desk", kind="webhook", target=zh_hook.url, secret=SECRET,
              site="estate-a")  # no language named: the default (zh_Hans), the site's zone
    alert = raise_alarm(sessions, 3, severity="critical", site="estate-a", task_id=task_id,
                        dedup_key="stabilize:estate-a:t3", value=0.5)

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            dispatcher.submit(alert)
            await until(lambda: box.messages and en_hook.got and zh_hook.got, "all three")
            await clear_condition(sessions, dispatcher, key="stabilize:estate-a:t3",
                                  ts_ms=T0_MS + 3_600_000)
            await until(lambda: len(box.messages) == 2 and len(en_hook.got) == 2
                        and len(zh_hook.got) == 2, "the clears")
            assert await dispatcher.drain(10)

    run(main)
    raised, cleared = box.mails()
    assert raised.to == ["li@example.org"]  # the holder of the alarm's task
    assert raised.subject == "【严重】estate-a 树木 t3：倾斜"
    assert raised.text.splitlines() == [
        "2026/11/24 16:58 测得 0.5°",
        f"任务 #{task_id}：P1 estate-a：加固树木 t3，期限 2026/11/24 17:58",
        f"告警编号 {alert.id}"]
    assert cleared.subject == "【已解除】estate-a 树木 t3：倾斜"
    assert "已解除：异常状况已结束" in cleared.text

    en = [r.json["items"][0] for r in en_hook.got]
    zh = [r.json["items"][0] for r in zh_hook.got]
    assert all(r.verified for r in en_hook.got + zh_hook.got)
    assert [(i["locale"], i["tz"], i["title"]) for i in en] == [
        ("en", "Europe/London", "[CRITICAL] lean: tree t3 at estate-a"),
        ("en", "Europe/London", "[CLEARED] lean: tree t3 at estate-a")]
    assert en[0]["body"].splitlines() == [
        "Measured 0.5° at 11/24/26, 8:58\u202fAM",
        f"Task #{task_id}: P1 Stabilize tree t3 at estate-a, due 11/24/26, 9:58\u202fAM",
        alert.message,  # the rules' own English words
        f"Alarm {alert.id}"]
    assert "Cleared: condition ended" in en[1]["body"]
    assert [(i["locale"], i["tz"], i["title"]) for i in zh] == [
        ("zh_Hans", "Asia/Shanghai", raised.subject), ("zh_Hans", "Asia/Shanghai",
                                                       cleared.subject)]
    # the machine part is the same for every reader, and in no language but the rules'
    assert [i["alert"] for i in en] == [i["alert"] for i in zh]
    assert en[0]["alert"]["kind"] == "lean" and en[0]["alert"]["value"] == 0.5
    rows = deliveries(sessions, alert_id=alert.id)
    assert sorted((d.recipient, d.message["locale"], d.state) for d in rows) == [
        ("person:estate-a:li", "zh_Hans", "delivered")] * 2 + [
        ("route:en-desk", "en", "delivered")] * 2 + [("route:zh-desk", "zh_Hans",
                                                      "delivered")] * 2


def test_sla_escalation_reaches_the_english_contractor_in_english(
        sessions: Sessions, receivers: list[Any]) -> None:
    box = MailBox(free_port()).start()
    receivers.append(box)
    task_id = estate(sessions, box)
    now = [T0_MS + 3_600_000 + 90 * 60_000]  # 90 minutes past the 1 h SLA

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            job = SlaJob(sessions, dispatcher, clock=lambda: now[0], sla_ms=SLA)
            (esc,) = await job.run_once()
            assert (esc.to_person, esc.to_role) == ("sam", "contractor")
            await until(lambda: box.messages, "the escalation mail")
            assert await dispatcher.drain(10)

    run(main)
    (mail,) = box.mails()
    assert mail.to == ["sam@example.org"]
    assert mail.subject == f"[SLA] task #{task_id} Stabilize tree t3 P1 is 90 minutes late"
    # the new deadline is an hour after the escalation, in London time
    assert mail.text.strip() == ("Now with sam (contractor), next deadline 11/24/26, "
                                 "12:28\u202fPM (estate-a)")


def test_a_storm_digest_is_in_the_readers_language(sessions: Sessions,
                                                    receivers: list[Any]) -> None:
    box = MailBox(free_port()).start()
    receivers.append(box)
    with sessions() as s:
        crud.create_site(s, data=SiteCreate(id="estate-a", tz="Asia/Shanghai"))
    add_route(sessions, name="duty-phone", kind="apprise", target=box.url("duty@example.org"),
              site="estate-a", rate_max=2, rate_window_s=600)
    storm = [raise_alarm(sessions, n, severity="warning", site="estate-a") for n in range(4)]

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            for a in storm:
                dispatcher.submit(a)
            await until(lambda: len(box.messages) == 2, "one message and one digest")
            assert await dispatcher.drain(10)

    run(main)
    first, digest = box.mails()
    assert first.subject == "【警告】estate-a 树木 t0：倾斜"
    assert digest.subject == "【警告】greeniot 汇总：3 条通知（estate-a）"
    assert [line.split("：")[0] for line in digest.text.strip().splitlines()] == [
        f"- 【警告】estate-a 树木 t{n}" for n in (1, 2, 3)]
    assert "2026/11/24 16:58 测得 0.5°" in digest.text  # Shanghai time, the site's zone


def test_a_clear_made_by_hand_reaches_the_routes_once(sessions: Sessions,
                                                      receivers: list[Any]) -> None:
    """The crew page and the API clear in the registry only; the maintenance process's
    ManualClearJob tells the routes. An automatic clear is the detectors' to notify."""
    hook = WebhookReceiver(SECRET, free_port()).start()
    receivers.append(hook)
    add_route(sessions, name="desk", kind="webhook", target=hook.url, secret=SECRET,
              locale="en")
    by_hand = raise_alarm(sessions, 1, severity="critical")
    by_system = raise_alarm(sessions, 2, severity="critical")

    async def main() -> None:
        async with AlertDispatcher(sessions, FAST) as dispatcher:
            job = ManualClearJob(sessions, dispatcher, clock=wall_ms)
            dispatcher.submit(by_hand)
            await until(lambda: hook.got, "the raised alarm")
            assert await job.run_once() == []
            with sessions() as s:
                crud.clear_alarm(s, alert_id=by_hand.id, note="re-staked by hand", by="li")
                crud.clear_condition(s, key="lean:estate-a:t2", ts_ms=T0_MS + 10)
            assert [a.id for a in await job.run_once()] == [by_hand.id]
            await until(lambda: len(hook.got) == 2, "the clear")
            await job.run_once()  # the same clear again: already delivered, not sent twice
            assert await dispatcher.drain(10)

    run(main)
    raised, cleared = (r.json["items"][0] for r in hook.got)
    assert raised["phase"] == "raised"
    assert len(hook.got) == 2 and cleared["phase"] == "cleared"
    assert cleared["title"] == "[CLEARED] lean: tree t1 at estate-a"
    assert cleared["body"].startswith("Cleared: re-staked by hand")
    assert [(d.phase, d.state) for d in deliveries(sessions, alert_id=by_hand.id)] == [
        ("raised", "delivered"), ("cleared", "delivered")]
    assert deliveries(sessions, alert_id=by_system.id) == []
