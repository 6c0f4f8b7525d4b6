"""Fixtures of the browser test: the real API server in a thread, headless Chromium."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from greeniot.config import Settings
from greeniot.runtime.processes import serve_api

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
#: Debian's chromium and chromium-driver (scripts/setup.sh installs them).
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: A phone-sized viewport (CSS pixels), like a mid-size Android or iPhone.
PHONE = (390, 844)


class ApiServer:
    """``serve_api`` (uvicorn, real InfluxDB client and MQTT valve commander) in a thread."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="api-server", daemon=True)

    def _on_ready(self, port: int) -> None:
        self.port = port
        self._ready.set()

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()  # type: ignore[assignment]
            await serve_api(self.settings, engine=self.engine, on_ready=self._on_ready)

        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass
        except BaseException as err:  # reported by start()
            self._error = err
            self._ready.set()

    def start(self) -> str:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"API server did not start: {self._error!r}")
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are missing: run scripts/setup.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}",
                 f"--window-size={PHONE[0]},{PHONE[1]}", "--lang=zh-CN"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        # the viewport, not the window, is what the page sees: set it exactly
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True})
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
