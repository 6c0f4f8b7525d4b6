"""The crew page through HTTP (the browser test drives the same pages in Chromium): log in,
my tasks in working order, a task's page, acknowledge/start/close with a photo, CSRF, languages.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from greeniot.registry import accounts, crud
from tests.api.conftest import API, password
from tests.api.photos import jpeg_bytes

T0 = 1_700_000_000_000


def login(anon: TestClient, username: str, pw: str) -> TestClient:
    c = TestClient(anon.app, base_url="https://testserver")  # the cookie is Secure
    r = c.post("/crew/login", data={"username": username, "password": pw},
               follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/crew"), r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    return c


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def test_login_page_and_wrong_password(anon: TestClient) -> None:
    page = anon.get("/crew/login", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "登录" in page.text and 'lang="zh-Hans"' in page.text
    assert "https://" not in page.text  # nothing from a CDN
    r = anon.post("/crew/login", data={"username": "crew", "password": "wrong-wrong"},
                  headers={"Accept-Language": "en"})
    assert r.status_code == 401 and "Wrong username or password." in r.text
    assert "set-cookie" not in r.headers


def test_my_tasks_in_working_order_and_a_task_closed_with_a_photo(
        anon: TestClient, registry: sessionmaker[Session]) -> None:
    with registry() as s:
        # (another subject: tasks of one tree and family of work merge into one)
        p3 = crud.ensure_task(s, site="estate-a", kind="drain", title="drain z1",
                                 zone="z1", priority=3, now_ms=T0)[0].id
        late_p1 = crud.ensure_task(s, site="estate-a", kind="remove", title="remove t2",
                                      tree="t2", priority=1, now_ms=T0, due_ms=T0 + 1)[0].id
        p1 = crud.ensure_task(s, site="estate-a", kind="stabilize", title="stabilize t1",
                                 tree="t1", priority=1, now_ms=T0, due_ms=T0 + 10)[0].id
    crew = login(anon, "crew", password("crew"))
    home = crew.get("/crew")
    assert home.status_code == 200
    order = [int(x) for x in re.findall(r'data-task="(\d+)"', home.text)]
    assert order == [late_p1, p1, p3]  # priority, then SLA due
    assert "Remove fallen tree t2" in home.text  # the user's locale is en

    page = crew.get(f"/crew/tasks/{late_p1}")
    assert page.status_code == 200 and 'data-state="open"' in page.text
    token = csrf(page.text)
    # a form without the CSRF token is refused
    assert crew.post(f"/crew/tasks/{late_p1}/start", data={}).status_code == 403
    r = crew.post(f"/crew/tasks/{late_p1}/start", data={"csrf": token})
    assert r.status_code == 200 and 'data-state="in_progress"' in r.text
    r = crew.post(f"/crew/tasks/{late_p1}/close",
                  data={"csrf": token, "note": "trunk cut and removed, stump marked"},
                  files={"photo": ("site.jpg", jpeg_bytes(), "image/jpeg")})
    assert r.status_code == 200 and 'data-state="closed"' in r.text
    assert "trunk cut and removed, stump marked" in r.text
    with registry() as s:
        task = crud.get_task(s, task_id=late_p1)
        assert (task.state, task.close_note) == ("closed", "trunk cut and removed, stump marked")
        assert [e["kind"] for e in task.evidence] == ["photo"]
        assert [(h.to_state, h.by) for h in task.history] == [
            ("open", "system"), ("acknowledged", "crew"), ("assigned", "crew"),
            ("in_progress", "crew"), ("closed", "crew")]
        assert (task.owner, task.assignee) == ("crew", "crew")
    # the photo is shown from the API with the page's cookie
    src = re.search(r'<img src="([^"]+)"', r.text)
    assert src and crew.get(src.group(1)).headers["content-type"] == "image/jpeg"
    # a failed step is explained on the page, not a crash
    r = crew.post(f"/crew/tasks/{late_p1}/acknowledge", data={"csrf": token})
    assert r.status_code == 200 and "cannot go from" in r.text


def test_chinese_user_operator_sees_alarms_and_dates_in_their_zone(
        anon: TestClient, registry: sessionmaker[Session]) -> None:
    with registry() as s:
        accounts.update_user(s, username="operator", locale="zh_Hans", tz="Asia/Shanghai")
        crud.ensure_task(s, site="estate-a", kind="remove", title="remove t2", tree="t2",
                            priority=1, now_ms=T0)[0]
        crud.ensure_alert(s, site="estate-a", kind="lean", severity="critical",
                         message="t2 leans 2.1°", ts_ms=T0, tree="t2", value=2.125)[0]
        crud.ensure_alert(s, site="estate-a", kind="drought", severity="warning",
                         message="z1 dry", ts_ms=T0, zone="z1", value=11.46)[0]
    ops = login(anon, "operator", password("operator"))
    home = ops.get("/crew").text
    assert "我负责片区的任务" in home and "清理倒伏树木 t2" in home and "告警" in home
    # the alarm in the user's words and units; the rules' English prose is not shown
    assert "倾斜 · t2 · <span class=\"value\">2.12°</span>" in home and "严重" in home
    assert "干旱 · z1 · <span class=\"value\">11.5%</span>" in home
    assert "t2 leans" not in home and "未确认" in home
    assert "2023/11/15 06:13" in home  # T0 = 2023-11-14 22:13:20 UTC, shown in UTC+8


def test_logout_ends_the_session(anon: TestClient) -> None:
    crew = login(anon, "crew", password("crew"))
    token = csrf(crew.get("/crew").text)
    r = crew.post("/crew/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    crew.cookies.clear()
    assert crew.get("/crew", follow_redirects=False).status_code == 303
    assert anon.get(f"{API}/health").status_code == 200


def alarm_ids(html: str) -> dict[str, str]:
    """The alarms on the page: id → state."""
    return dict(re.findall(r'data-alarm="([^"]+)" data-state="([a-z]+)"', html))


def test_crew_acknowledges_and_clears_an_alarm_of_their_site(
        anon: TestClient, registry: sessionmaker[Session]) -> None:
    with registry() as s:
        accounts.update_user(s, username="crew", sites=["estate-a"])
        mine = crud.ensure_alert(s, site="estate-a", kind="lean", severity="warning",
                                message="t1 leans 0.9 deg", ts_ms=T0, tree="t1", value=0.9)[0].id
        worse = crud.ensure_alert(s, site="estate-a", kind="failure", severity="critical",
                                 message="t2 is down", ts_ms=T0 - 1, tree="t2", value=31.0)[0].id
        other = crud.ensure_alert(s, site="estate-b", kind="lean", severity="critical",
                                 message="t9 leans", ts_ms=T0, tree="t9")[0].id
    crew = login(anon, "crew", password("crew"))
    home = crew.get("/crew").text
    assert list(alarm_ids(home).items()) == [(worse, "active"), (mine, "active")]  # worst first
    assert "Measured" not in home and "0.9°" in home and "t1 leans 0.9 deg" in home  # en user
    token = csrf(home)
    # without the CSRF token, or for another site's alarm: refused, nothing changes
    assert crew.post(f"/crew/alarms/{mine}/acknowledge", data={}).status_code == 403
    assert crew.post(f"/crew/alarms/{other}/acknowledge",
                     data={"csrf": token}).status_code == 403
    r = crew.post(f"/crew/alarms/{mine}/acknowledge", data={"csrf": token},
                  follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/crew#alarms-title")
    home = crew.get("/crew").text
    assert alarm_ids(home) == {worse: "active", mine: "acknowledged"}
    assert "acknowledged</span> (crew)" in home
    # a clear needs a note: the page says so and the alarm stays
    r = crew.post(f"/crew/alarms/{mine}/clear", data={"csrf": token, "note": "  "})
    assert r.status_code == 200 and "clearing an alarm needs a note" in r.text
    r = crew.post(f"/crew/alarms/{mine}/clear",
                  data={"csrf": token, "note": "sensor re-seated, tree is straight"})
    assert r.status_code == 200 and alarm_ids(r.text) == {worse: "active"}
    with registry() as s:
        a = crud.get_alert(s, alert_id=mine)
        assert (a.state, a.ack_by, a.cleared_by, a.clear_note) == (
            "cleared", "crew", "crew", "sensor re-seated, tree is straight")
        assert [(h.to_state, h.by) for h in a.history] == [
            ("active", "system"), ("acknowledged", "crew"), ("cleared", "crew")]
        assert crud.get_alert(s, alert_id=other).state == "active"


def test_a_viewer_sees_the_alarms_without_buttons(anon: TestClient,
                                                  registry: sessionmaker[Session]) -> None:
    with registry() as s:
        alarm = crud.ensure_alert(s, site="estate-a", kind="low_battery", severity="warning",
                                 message="battery low", ts_ms=T0, device="soil-1",
                                 value=3.284)[0].id
    viewer = login(anon, "viewer", password("viewer"))
    home = viewer.get("/crew").text
    assert alarm_ids(home) == {alarm: "active"} and "3.28 V" in home
    assert f"/crew/alarms/{alarm}/acknowledge" not in home
    token = csrf(home)
    assert viewer.post(f"/crew/alarms/{alarm}/acknowledge",
                       data={"csrf": token}).status_code == 403
