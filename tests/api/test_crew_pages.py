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
        p3 = crud.open_task_once(s, site="estate-a", kind="drain", title="drain z1",
                                 zone="z1", priority=3, now_ms=T0).id
        late_p1 = crud.open_task_once(s, site="estate-a", kind="remove", title="remove t2",
                                      tree="t2", priority=1, now_ms=T0, due_ms=T0 + 1).id
        p1 = crud.open_task_once(s, site="estate-a", kind="stabilize", title="stabilize t1",
                                 tree="t1", priority=1, now_ms=T0, due_ms=T0 + 10).id
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
        crud.open_task_once(s, site="estate-a", kind="remove", title="remove t2", tree="t2",
                            priority=1, now_ms=T0)
        crud.raise_alert(s, site="estate-a", kind="lean", severity="critical",
                         message="t2 leans 2.1°", ts_ms=T0, tree="t2")
    ops = login(anon, "operator", password("operator"))
    home = ops.get("/crew").text
    assert "我负责片区的任务" in home and "清理倒伏树木 t2" in home and "告警" in home
    assert "t2 leans 2.1°" in home and "严重" in home
    assert "2023/11/15 06:13" in home  # T0 = 2023-11-14 22:13:20 UTC, shown in UTC+8


def test_logout_ends_the_session(anon: TestClient) -> None:
    crew = login(anon, "crew", password("crew"))
    token = csrf(crew.get("/crew").text)
    r = crew.post("/crew/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    crew.cookies.clear()
    assert crew.get("/crew", follow_redirects=False).status_code == 303
    assert anon.get(f"{API}/health").status_code == 200
