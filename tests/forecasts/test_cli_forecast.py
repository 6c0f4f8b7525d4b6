"""``greeniot forecast post | import | fetch`` as real processes on the real broker; ``fetch``
reads a saved Open-Meteo response from a loopback HTTP server (no network)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from greeniot.config import Settings
from greeniot.protocol import SiteForecast, decode, forecast_topic
from tests.helpers import Observer, Publisher, poll

DATA = Path(__file__).parent / "data"


def greeniot(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GREENIOT_MQTT__CLIENT_ID": settings.mqtt.client_id}
    return subprocess.run([sys.executable, "-m", "greeniot", "forecast", *args,
                           "--mqtt-port", str(settings.mqtt.port)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def forecasts(obs: Observer, site: str) -> list[SiteForecast]:
    out = []
    for m in obs.on(forecast_topic(site)):
        d = decode(m.topic, m.payload)
        assert d.rejections == [], d.rejections
        out += [x for x in d.messages if isinstance(x, SiteForecast)]
    return out


@pytest.fixture(autouse=True)
def clear_retained(settings: Settings, site_id: str) -> Iterator[None]:
    """Leave no retained forecast behind for the session's other tests."""
    yield
    pub = Publisher(settings.mqtt.port)
    pub.publish(forecast_topic(site_id), b"", 1, True)
    pub.close()


@pytest.fixture
def saved_service() -> Iterator[str]:
    """The saved Open-Meteo response, its three dates moved to today and the next two days in
    Hong Kong (as the service answers on the day it is asked)."""
    import datetime as dt

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    body = (DATA / "open_meteo_daily.json").read_bytes()
    for k, old in enumerate((b"2026-09-14", b"2026-09-15", b"2026-09-16")):
        body = body.replace(old, str(today + dt.timedelta(days=k)).encode())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = (self.path.startswith("/v1/forecast?") and "wind_speed_unit=ms" in self.path
                  and "daily=precipitation_sum" in self.path)
            self.send_response(200 if ok else 400)
            self.end_headers()
            self.wfile.write(body if ok else b'{"error":true,"reason":"bad query"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1/forecast"
    server.shutdown()


def test_post_publishes_a_retained_forecast(settings: Settings, site_id: str) -> None:
    res = greeniot(["post", "--site", site_id, "--rain-today-mm", "6.5", "--temp-min-c", "1",
                    "--temp-max-c", "8", "--wind-max-ms", "20", "--issued",
                    "2026-12-01T06:00+08:00"], settings)
    assert res.returncode == 0, res.stderr
    obs = Observer(settings.mqtt.port, [forecast_topic(site_id)])  # joins afterwards: retained
    try:
        (fc,) = poll(lambda: forecasts(obs, site_id), what="the retained forecast")
    finally:
        obs.close()
    assert (fc.rain_today_mm, fc.temp_min_c, fc.wind_max_ms, fc.source) == (6.5, 1.0, 20.0,
                                                                            "cli")
    assert fc.ts_ms == 1_796_076_000_000
    bad = greeniot(["post", "--site", site_id, "--temp-min-c", "9", "--temp-max-c", "3"],
                   settings)
    assert bad.returncode == 1 and "temp_min_c (9.0) is above temp_max_c" in bad.stderr


def test_import_each_day_and_a_bad_file_publishes_nothing(settings: Settings, site_id: str,
                                                          tmp_path: Path) -> None:
    obs = Observer(settings.mqtt.port, [forecast_topic(site_id)])
    try:
        res = greeniot(["import", str(DATA / "forecast_days.csv"), "--site", site_id, "--tz",
                        "Asia/Hong_Kong", "--each-day", "--issued", "2026-12-03T07:00+08:00"],
                       settings)
        assert res.returncode == 0, res.stderr
        got = poll(lambda: len(forecasts(obs, site_id)) == 3 and forecasts(obs, site_id),
                   what="three forecasts")
        assert [f.temp_min_tomorrow_c for f in got] == [-2.0, 1.0, None]
        assert got[0].source == "file:forecast_days.csv"
        bad = tmp_path / "bad.csv"
        bad.write_text("date,rain_mm\n2026-12-04,2\n2026-12-05,heavy\n")
        res = greeniot(["import", str(bad), "--site", site_id, "--tz", "UTC"], settings)
        assert res.returncode == 1 and "bad.csv line 3: rain_mm 'heavy'" in res.stderr
        assert len(forecasts(obs, site_id)) == 3
    finally:
        obs.close()


def test_fetch_from_a_weather_service(settings: Settings, site_id: str,
                                      saved_service: str) -> None:
    obs = Observer(settings.mqtt.port, [forecast_topic(site_id)])
    try:
        res = greeniot(["fetch", "--site", site_id, "--lat", "22.3", "--lon", "114.2", "--url",
                        saved_service, "--tz", "Asia/Hong_Kong"], settings)
        assert res.returncode == 0, res.stderr
        (fc,) = poll(lambda: forecasts(obs, site_id), what="the fetched forecast")
        assert (fc.rain_today_mm, fc.rain_tomorrow_mm, fc.source) == (12.4, 86.1, "open-meteo")
        assert fc.wind_max_ms == pytest.approx(24.5)  # 88.2 km/h tomorrow: a gale
        res = greeniot(["fetch", "--site", site_id, "--lat", "22.3", "--lon", "114.2", "--url",
                        saved_service.replace("/v1/forecast", "/v1/archive"),
                        "--tz", "UTC"], settings)
        assert res.returncode == 1 and "answered 400: bad query" in res.stderr
    finally:
        obs.close()
