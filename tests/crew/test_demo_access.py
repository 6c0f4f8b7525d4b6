"""The demo on its real services (Mosquitto, InfluxDB, the API with its MQTT valve commander)
prints the crew page's address and a login per role; while it runs, the printed crew login
opens the crew page, and an anonymous valve open is refused with 401 and sends nothing."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from greeniot.config import Settings
from greeniot.runtime.demo import run_demo

pytestmark = [pytest.mark.services]

REASON = "anonymous open from the demo access test"


def probe(crew_url: str, logins: dict[str, str], got: dict[str, Any]) -> None:
    """What a new user does with what the demo printed (runs beside the demo's event loop)."""
    try:
        base = crew_url.removesuffix("/crew")
        with httpx.Client(base_url=base, timeout=20) as c:
            got["login_page"] = c.get("/crew/login").status_code
            r = c.post("/crew/login", data={"username": "demo-crew",
                                            "password": logins["demo-crew"]},
                       follow_redirects=True)
            got["crew_page"] = (r.status_code, str(r.url), 'id="alarms-title"' in r.text)
            op = c.post("/api/v1/auth/token", data={
                "username": "demo-operator", "password": logins["demo-operator"]}).json()
            auth = {"Authorization": f"Bearer {op['access_token']}"}
            valve = c.get("/api/v1/devices", params={"kind": "valve"}, headers=auth).json()[0]
            path = f"/api/v1/valves/{valve['site']}/{valve['id']}/commands"
            body = {"op": "open", "max_run_s": 86_400, "reason": REASON}
            with httpx.Client(base_url=base, timeout=20) as anon:  # no cookie, no token
                got["anonymous_open"] = anon.post(path, json=body).status_code
            got["commands"] = c.get("/api/v1/commands", headers=auth,
                                    params={"limit": 1000}).json()
    except Exception as err:  # reported by the test
        got["error"] = repr(err)
    finally:
        got["done"] = True


def test_the_demo_prints_the_crew_page_and_logins_that_work(tmp_path: Path) -> None:
    lines: list[str] = []
    logins: dict[str, str] = {}
    got: dict[str, Any] = {}

    def console(text: str) -> None:
        lines.append(text)
        if m := re.fullmatch(r"login (demo-\w+) / (\S+)", text):
            logins[m.group(1)] = m.group(2)
        if (m := re.search(r"crew page (http://127\.0\.0\.1:\d+/crew) ", text)) \
                and "thread" not in got:
            got["thread"] = threading.Thread(target=probe, args=(m.group(1), dict(logins),
                                                                 got), daemon=True)
            got["thread"].start()

    settings = Settings(data_dir=tmp_path / "demo-data")
    asyncio.run(run_demo(settings, duration_s=25, trees=4, zones=1, scenario_s=6,
                         api_port=0, firmware=False, console=console))
    got["thread"].join(30)
    assert got.get("done") and "error" not in got, got
    # what the demo printed: one login per role, and where the crew page is
    assert set(logins) == {"demo-admin", "demo-operator", "demo-crew", "demo-viewer"}
    assert any(re.search(r"crew page http://127\.0\.0\.1:\d+/crew \(log in as demo-crew\)",
                         line) for line in lines), lines
    assert got["login_page"] == 200
    status, url, page = got["crew_page"]
    assert status == 200 and url.endswith("/crew") and page  # logged in, on "my tasks"
    assert got["anonymous_open"] == 401
    assert [c for c in got["commands"] if c["reason"] == REASON] == []
