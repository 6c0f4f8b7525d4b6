"""The demo says what it does not show and how long it stays up."""

from __future__ import annotations

import time
from pathlib import Path

from greeniot.config import Settings
from greeniot.registry import crud
from greeniot.registry.context import seed
from greeniot.runtime.demo import open_tasks, uptime_line
from greeniot.runtime.processes import open_registry


def test_task_list_says_how_many_are_not_shown(tmp_path: Path) -> None:
    engine, sessions = open_registry(Settings(data_dir=tmp_path))
    with sessions() as s:
        seed(s, sites=[{"id": "a", "name": "A"}], zones=[], trees=[], devices=[])
        for i in range(15):
            crud.ensure_task(s, site="a", kind="inspect", title=f"look at t{i}", priority=2,
                             dedup_key=f"inspect:a:t{i}", now_ms=1_000 + i)
        s.commit()
    try:
        lines = open_tasks(sessions, limit=12)
        assert lines[0].startswith("open tasks (12 of 15, the rest at /api/v1/tasks;")
        assert len(lines) == 13
        assert open_tasks(sessions, limit=20)[0].startswith("open tasks (all 15;")
    finally:
        engine.dispose()


def test_uptime_line_names_the_stop() -> None:
    now = time.time()
    line = uptime_line(90.0, now)
    assert "90 s more" in line and time.strftime("%H:%M:%S", time.localtime(now + 90)) in line
    assert "until Ctrl-C" in uptime_line(None, now)
    assert "stopping" in uptime_line(-1.0, now)
