"""Swagger UI and ReDoc render in headless Chromium from the API's own files (the machine has
no route to a CDN, so a page that needed one would stay blank)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greeniot.config import AuthSettings, Settings
from greeniot.runtime.processes import open_registry
from tests.crew.conftest import ApiServer

pytestmark = [pytest.mark.services]


def test_swagger_ui_and_redoc_render_without_a_cdn(settings: Settings, browser: Any,
                                                   artifacts: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    s = settings.model_copy(update={"auth": AuthSettings(secret="docs-test-" + "d" * 32),
                                    "api": settings.api.model_copy(update={"port": 0})})
    engine, _sessions = open_registry(s)
    server = ApiServer(s, engine)
    base = server.start()
    wait = WebDriverWait(browser, 30)
    try:
        browser.get(f"{base}/docs")
        title = wait.until(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, ".swagger-ui .info .title")))
        assert "greeniot" in title.text
        ops = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        assert any("/api/v1/tasks/{task_id}/close" in o.text for o in ops)
        assert browser.find_elements(By.CSS_SELECTOR, ".btn.authorize")  # OAuth2 login
        browser.save_screenshot(str(artifacts / "docs-swagger.png"))
        browser.get(f"{base}/redoc")
        wait.until(lambda d: "greeniot" in d.find_element(By.TAG_NAME, "h1").text)
        browser.save_screenshot(str(artifacts / "docs-redoc.png"))
        scripts = browser.execute_script(
            "return Array.from(document.scripts).map(s => s.src).filter(Boolean)")
        assert scripts and all(src.startswith(base) for src in scripts), scripts
    finally:
        server.stop()
        engine.dispose()
