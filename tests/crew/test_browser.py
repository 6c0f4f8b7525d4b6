"""In headless Chromium on a phone-sized viewport: a typhoon run through the real pipeline
(simulator → Mosquitto → ingest → InfluxDB; analytics → actions → registry) fells a tree and
raises its P1 ``remove`` task; a crew member logs in on the crew page, opens that task, sees the
readings behind it, starts it, and closes it with a note and a photo; the API then shows the
task closed with that evidence. Back on the list the crew member acknowledges one of the storm's
alarms and clears another by hand with a note; the API shows both. Screenshots of each page go
to tests/artifacts/.

The same run checks the notifications raised from those readings: the crew member (a zh_Hans
account on the site's roster, so the first responsible for the tree's task) gets the task's
alarms by e-mail (apprise ``mailto://`` to a local aiosmtpd server) in Chinese, and an English
duty desk (a webhook route with ``locale=en``, local HTTP receiver checking the signature)
gets the same alarms in English, in London time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from greeniot.config import AuthSettings, DeliverySettings, Settings
from greeniot.ingest.service import IngestService
from greeniot.registry import accounts, crud
from greeniot.registry.models import Task
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.processes import bindings_of
from greeniot.services import free_port
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.runner import run
from tests.actions.receivers import MailBox, WebhookReceiver
from tests.api.photos import jpeg_bytes
from tests.crew.conftest import ApiServer
from tests.e2e.test_pipeline import seeded_estate, wait_for

pytestmark = [pytest.mark.services]

CLEAR_NOTE = "已现场核实，风已停 / checked on site, the wind has dropped"
NOTE = "倒伏树木已锯断清运，树穴已回填 / trunk cut up and cleared, pit backfilled"


USER, PASSWORD = "crew-li", "banyan-2026"
SECRET = "desk-hook-secret-0123456789"


def crew_and_desk(sessions: Any, site_id: str, box: MailBox, hook: WebhookReceiver) -> None:
    """Li (zh_Hans, Shanghai) on the site's roster with an e-mail address; an English desk."""
    with sessions() as session:
        accounts.create_user(session, username=USER, role="crew", password=PASSWORD,
                             display_name="李师傅", locale="zh_Hans", tz="Asia/Shanghai",
                             sites=[site_id])
        crud.add_person(session, site=site_id, name=USER, role="crew",
                        notify_url=box.url("li@example.org"))
        crud.add_route(session, name="duty-desk", kind="webhook", target=hook.url,
                       secret=SECRET, site=site_id, min_severity="warning", rate_max=10_000,
                       locale="en", tz="Europe/London")


def typhoon_removal_task(settings: Settings, site_id: str, box: MailBox,
                         hook: WebhookReceiver) -> tuple[Any, Any, int, str]:
    """Run the typhoon scenario through the real stages; the fallen tree's remove task, once
    Li's mail about it has arrived."""
    fleet = Fleet.generate(sites=1, trees_per_site=20, zones_per_site=2, seed=11,
                           site_ids=[site_id])
    s, engine, sessions, ctx = seeded_estate(settings, fleet)
    crew_and_desk(sessions, site_id, box, hook)

    async def scenario() -> str:
        async with (IngestService(s, bindings=bindings_of(ctx)),
                    MaintenanceService(s, ctx, sessions)):
            result = await run("typhoon", fleet, port=s.mqtt.port, span_s=120 * 3600,
                               speed=None, step_s=300, seed=11,
                               client_id_prefix=f"sim-{site_id}")
            (failed,) = result.truth.failures

            def removal() -> bool:
                with sessions() as session:
                    return session.scalars(select(Task).where(
                        Task.tree == failed, Task.kind == "remove")).first() is not None

            await wait_for(removal, 60, "the fallen tree's removal task")
            await wait_for(lambda: notified(box, hook, str(failed)), 90,
                           "Li's mail and the desk's webhook about the fallen tree's task")
            return str(failed)

    failed = asyncio.run(scenario())
    with sessions() as session:
        task = session.scalars(select(Task).where(Task.tree == failed,
                                                  Task.kind == "remove")).one()
        assert (task.priority, task.state) == (1, "open")
        return s, engine, task.id, failed


def notified(box: MailBox, hook: WebhookReceiver, tree: str) -> bool:
    """Both readers have heard of the fallen tree's removal task, each in their language."""
    items = [i for r in hook.got for i in r.json["items"]]
    return (any(f"清理倒伏树木 {tree}" in m.text for m in box.mails())
            and any(f"Remove fallen tree {tree}" in i["body"] for i in items))


def check_notifications(box: MailBox, hook: WebhookReceiver, site: str, task_id: int,
                        tree: str) -> None:
    """The alarms of the tree's task reached Li in Chinese (Shanghai time) and the desk in
    English (London time); each alarm's machine part is the same for both."""
    mails = box.mails()
    assert mails and all(m.to == ["li@example.org"] for m in mails)
    assert any(f"任务 #{task_id}：P1 {site}：清理倒伏树木 {tree}，期限 " in m.text for m in mails)
    assert any(m.subject.startswith("【") and f"{site} 树木 {tree}：" in m.subject
               for m in mails)
    assert all(r.verified for r in hook.got)
    items = [i for r in hook.got for i in r.json["items"]]
    assert {(i["locale"], i["tz"]) for i in items} == {("en", "Europe/London")}
    # (the task's SLA may pass in the replay's event time: its notice is about the task)
    ours = [i for i in items if i["alert"].get("task_id") == task_id and i["phase"] != "sla"]
    assert ours and all(f": tree {tree} at {site}" in i["title"] for i in ours)
    assert any(f"Task #{task_id}: P1 Remove fallen tree {tree} at {site}, due " in i["body"]
               for i in ours)


def shot(driver: Any, artifacts: Path, name: str) -> Path:
    """The phone's viewport as the crew member sees it, and the whole page below it."""
    import base64

    path = artifacts / f"crew-{name}.png"
    driver.save_screenshot(str(path))
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    full = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    (artifacts / f"crew-{name}-full.png").write_bytes(base64.b64decode(full["data"]))
    return path


def test_crew_closes_the_typhoon_removal_task_with_a_note_and_a_photo(
        settings: Settings, site_id: str, browser: Any, artifacts: Path,
        tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    settings = settings.model_copy(update={
        # plain HTTP on loopback: the browser would not send a Secure cookie back
        "auth": AuthSettings(secret="browser-test-" + "s" * 32, cookie_secure=False),
        # every notification on its own (the digests have tests of their own)
        "delivery": DeliverySettings(rate_max=10_000),
        "api": settings.api.model_copy(update={"port": 0})})
    box = MailBox(free_port()).start()
    hook = WebhookReceiver(SECRET, free_port()).start()
    try:
        s, engine, task_id, tree = typhoon_removal_task(settings, site_id, box, hook)
    finally:
        box.stop()
        hook.stop()
    check_notifications(box, hook, site_id, task_id, tree)
    server = ApiServer(s, engine)
    base = server.start()
    wait = WebDriverWait(browser, 20)
    try:
        browser.get(f"{base}/crew")  # not logged in: sent to the login page
        wait.until(ec.presence_of_element_located((By.ID, "username")))
        assert browser.current_url.endswith("/crew/login")
        shot(browser, artifacts, "1-login")
        browser.find_element(By.ID, "username").send_keys(USER)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()

        link = wait.until(ec.element_to_be_clickable(
            (By.CSS_SELECTOR, f'a[data-task="{task_id}"]')))
        assert f"清理倒伏树木 {tree}" in link.text and "P1" in link.text
        shot(browser, artifacts, "2-my-tasks")
        link.click()

        wait.until(ec.presence_of_element_located((By.ID, "task-title")))
        assert f"清理倒伏树木 {tree}" in browser.find_element(By.ID, "task-title").text
        # the readings behind the task: tilt of the fallen tree from InfluxDB
        lines = browser.find_elements(By.CSS_SELECTOR, "#chart polyline")
        assert lines and len(lines[0].get_attribute("points").split()) > 10
        assert browser.execute_script(  # the page fits the phone: no sideways scrolling
            "return document.documentElement.scrollWidth") <= 390
        shot(browser, artifacts, "3-task-open")
        browser.find_element(By.ID, "start").click()

        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                                   '#state[data-state="in_progress"]')))
        photo = tmp_path / "after.jpg"
        photo.write_bytes(jpeg_bytes((640, 480)))
        browser.find_element(By.ID, "note").send_keys(NOTE)
        browser.find_element(By.ID, "photo").send_keys(str(photo))
        shot(browser, artifacts, "4-task-in-progress")
        browser.find_element(By.ID, "close").click()

        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                                   '#state[data-state="closed"]')))
        img = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".photos img")))
        assert browser.execute_script("return arguments[0].naturalWidth", img) == 640
        shot(browser, artifacts, "5-task-closed")

        # the API shows it closed, by the crew member, with the note and that photo
        with httpx.Client(base_url=base) as api:
            token = api.post("/api/v1/auth/token", data={"username": USER,
                                                         "password": PASSWORD}).json()
            auth = {"Authorization": f"Bearer {token['access_token']}"}
            task = api.get(f"/api/v1/tasks/{task_id}", headers=auth).json()
            assert (task["state"], task["close_note"]) == ("closed", NOTE)
            # every step the crew took is theirs (the system's own entries, such as the storm's
            # later findings folded into the task, and an SLA reminder in the replay's event
            # time, aside)
            steps = [h for h in task["history"][1:] if h["by"] not in ("system", "sla")]
            assert [h["by"] for h in steps] == [USER] * 4
            (evidence,) = task["evidence"]
            assert evidence["kind"] == "photo"
            got = api.get(f"/api/v1/tasks/{task_id}/photos/{evidence['value']}",
                          headers=auth)
            assert got.status_code == 200 and got.content == photo.read_bytes()
            assert api.get(f"/api/v1/tasks/{task_id}/photos/{evidence['value']}"
                           ).status_code == 401

            # the storm's alarms of the site: acknowledge one on the page, then clear it
            browser.get(f"{base}/crew")
            live = wait.until(ec.presence_of_all_elements_located(
                (By.CSS_SELECTOR, '#alarms li[data-state="active"]')))
            alarm = str(live[0].get_attribute("data-alarm"))
            browser.execute_script("arguments[0].scrollIntoView()", live[0])
            shot(browser, artifacts, "6-alarms")
            browser.find_element(By.CSS_SELECTOR, f'button.ack[data-alarm="{alarm}"]').click()
            row = wait.until(ec.presence_of_element_located(
                (By.CSS_SELECTOR, f'li[data-alarm="{alarm}"][data-state="acknowledged"]')))
            assert "已确认" in row.text and USER in row.text
            shot(browser, artifacts, "7-alarm-acknowledged")
            got = api.get(f"/api/v1/alerts/{alarm}", headers=auth).json()
            assert (got["state"], got["acknowledged"], got["ack_by"]) == (
                "acknowledged", True, USER)

            row.find_element(By.TAG_NAME, "summary").click()
            row.find_element(By.NAME, "note").send_keys(CLEAR_NOTE)
            shot(browser, artifacts, "8-alarm-clear-note")
            row.find_element(By.CSS_SELECTOR, "button.clear").click()
            wait.until(lambda d: d.find_element(By.ID, "alarms-title") and not
                       d.find_elements(By.ID, f"alarm-{alarm}"))
            shot(browser, artifacts, "9-alarm-cleared")
            got = api.get(f"/api/v1/alerts/{alarm}", headers=auth).json()
            assert (got["state"], got["cleared_by"], got["clear_note"]) == (
                "cleared", USER, CLEAR_NOTE)
            assert [(h["to_state"], h["by"]) for h in got["history"]][-2:] == [
                ("acknowledged", USER), ("cleared", USER)]
    finally:
        server.stop()
        engine.dispose()
