"""``greeniot forecast post | import | fetch``: publish site forecasts on the broker.

Each publishes on the site's ``forecast`` channel (retained, QoS 1), as the API's
``POST /api/v1/sites/{site}/forecast`` does; ingest stores it and the maintenance process
feeds it to the watering lockouts and the pre-storm sweep. Today and tomorrow are the site's
local days (its registry time zone, or ``--tz``). Exit 1 when the input is refused: nothing is
published from a file with a bad row.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from greeniot.forecasts.adapter import (
    DailyForecast,
    ForecastInputError,
    daily_site_forecasts,
    site_forecast,
)
from greeniot.protocol.messages import SiteForecast

forecast = typer.Typer(no_args_is_help=True,
                       help="Site weather forecasts: post one, import a file, fetch a service.")

Site = Annotated[str, typer.Option(help="the site the forecast is for")]
Tz = Annotated[str | None, typer.Option(help="IANA time zone of the site [default: the "
                                        "registry's]")]
DataDir = Annotated[Path | None, typer.Option(help="data folder [GREENIOT_DATA_DIR]")]
DbUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL [GREENIOT_DB_URL]")]
MqttHost = Annotated[str | None, typer.Option(help="MQTT broker host [GREENIOT_MQTT__HOST]")]
MqttPort = Annotated[int | None, typer.Option(help="MQTT broker port [GREENIOT_MQTT__PORT]")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="print the payloads, publish nothing")]


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(1)


def _offset_h(site: str, tz: str | None, data_dir: Path | None, db_url: str | None,
              at_ms: int) -> float:
    """The site's UTC offset at ``at_ms`` [h], from ``tz`` or the site's registry entry."""
    if tz is None:
        from greeniot.cli import build_settings
        from greeniot.registry import crud
        from greeniot.registry.db import make_engine, migrate, session_factory
        from greeniot.registry.errors import NotFoundError

        engine = make_engine(build_settings(data_dir=data_dir, db_url=db_url))
        try:
            migrate(engine)
            with session_factory(engine)() as s:
                tz = crud.get_site(s, site=site).tz
        except NotFoundError as err:
            raise _fail(f"{err} (register it, or give --tz)") from err
        finally:
            engine.dispose()
    try:
        off = dt.datetime.fromtimestamp(at_ms / 1000, ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise _fail(f"unknown time zone {tz!r}") from err
    return (off or dt.timedelta()).total_seconds() / 3600


async def _publish(site: str, forecasts: list[SiteForecast], mqtt_host: str | None,
                   mqtt_port: int | None) -> None:
    from greeniot.cli import build_settings
    from greeniot.forecasts.publish import publish_forecast
    from greeniot.reachable import mqtt_dependency, retry_until_reachable
    from greeniot.transport.mqtt import MqttSession

    settings = build_settings(mqtt_host=mqtt_host, mqtt_port=mqtt_port)
    mqtt = MqttSession(settings.mqtt, f"{settings.mqtt.client_id}-forecast", clean_session=True)
    await retry_until_reachable(mqtt_dependency(settings.mqtt), mqtt.connect)
    try:
        for fc in forecasts:
            await publish_forecast(mqtt.send, site, fc)
    finally:
        await mqtt.close()


def _emit(site: str, forecasts: list[SiteForecast], dry_run: bool, mqtt_host: str | None,
          mqtt_port: int | None) -> None:
    from greeniot.protocol.codec import encode
    from greeniot.protocol.topics import TopicError, forecast_topic

    try:
        topic = forecast_topic(site)
    except TopicError as err:
        raise _fail(str(err)) from err
    for fc in forecasts:
        typer.echo(f"{topic} {encode(fc).decode()}")
    if not dry_run:
        asyncio.run(_publish(site, forecasts, mqtt_host, mqtt_port))
        typer.echo(f"published {len(forecasts)} forecast(s) for site {site}")


def _issued(issued: str | None) -> int:
    if issued is None:
        return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    try:
        t = dt.datetime.fromisoformat(issued)
    except ValueError as err:
        raise _fail(f"--issued {issued!r} is not an ISO 8601 time") from err
    if t.tzinfo is None:
        raise _fail(f"--issued {issued!r} needs a UTC offset (e.g. 2026-12-01T06:00+08:00)")
    return int(t.timestamp() * 1000)


@forecast.command("post")
def post(site: Site,
         rain_today_mm: Annotated[float, typer.Option(help="rain for the rest of today")] = 0.0,
         rain_tomorrow_mm: Annotated[float, typer.Option(help="rain tomorrow")] = 0.0,
         temp_min_c: Annotated[float | None, typer.Option(help="today's minimum")] = None,
         temp_max_c: Annotated[float | None, typer.Option(help="today's maximum")] = None,
         temp_min_tomorrow_c: Annotated[float | None, typer.Option(
             help="tomorrow's minimum (winter watering)")] = None,
         wind_ms: Annotated[float | None, typer.Option(help="today's mean wind")] = None,
         wind_max_ms: Annotated[float | None, typer.Option(
             help="highest mean wind today/tomorrow (gale: the pre-storm sweep)")] = None,
         gust_max_ms: Annotated[float | None, typer.Option(help="highest gust")] = None,
         signal: Annotated[int | None, typer.Option(
             help="tropical cyclone signal (8+: the pre-storm sweep)")] = None,
         issued: Annotated[str | None, typer.Option(help="issue time, ISO 8601 [now]")] = None,
         source: Annotated[str, typer.Option(help="who made it")] = "cli",
         mqtt_host: MqttHost = None, mqtt_port: MqttPort = None, dry_run: DryRun = False
         ) -> None:
    """Post one forecast (values in mm, °C, m/s)."""
    from pydantic import ValidationError

    try:
        fc = SiteForecast(
            ts_ms=_issued(issued), rain_today_mm=rain_today_mm, rain_tomorrow_mm=rain_tomorrow_mm,
            temp_min_c=temp_min_c, temp_max_c=temp_max_c,
            temp_min_tomorrow_c=temp_min_tomorrow_c, wind_ms=wind_ms, wind_max_ms=wind_max_ms,
            gust_max_ms=gust_max_ms, signal=signal, source=source)
    except ValidationError as err:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'forecast'}: {e['msg']}"
                              for e in err.errors())) from err
    _emit(site, [fc], dry_run, mqtt_host, mqtt_port)


def _forecasts(days: list[DailyForecast], site: str, tz: str | None, data_dir: Path | None,
               db_url: str | None, each_day: bool, issued: str | None, source: str
               ) -> list[SiteForecast]:
    at = _issued(issued)
    offset = _offset_h(site, tz, data_dir, db_url, at)
    try:
        if each_day:
            return daily_site_forecasts(days, utc_offset_h=offset, source=source, until_ms=at)
        return [site_forecast(days, issued_ms=at, utc_offset_h=offset, source=source)]
    except ForecastInputError as err:
        raise _fail(str(err)) from err


@forecast.command("import")
def import_file(path: Annotated[Path, typer.Argument(help="CSV or JSON of days, or an "
                                                     "Open-Meteo response")],
                site: Site, tz: Tz = None,
                each_day: Annotated[bool, typer.Option(
                    help="one forecast per day, issued at its local midnight (a backfill)")]
                = False,
                issued: Annotated[str | None, typer.Option(help="issue time [now]")] = None,
                data_dir: DataDir = None, db_url: DbUrl = None, mqtt_host: MqttHost = None,
                mqtt_port: MqttPort = None, dry_run: DryRun = False) -> None:
    """Import several days: columns date, rain_mm, temp_min_c, temp_max_c, wind_ms,
    wind_max_ms, gust_max_ms, signal (src/greeniot/forecasts/files.py)."""
    from greeniot.forecasts.files import read_days

    try:
        days = read_days(path)
    except ForecastInputError as err:
        raise _fail(str(err)) from err
    fcs = _forecasts(days, site, tz, data_dir, db_url, each_day, issued, f"file:{path.name}"[:64])
    _emit(site, fcs, dry_run, mqtt_host, mqtt_port)


@forecast.command("fetch")
def fetch(site: Site,
          lat: Annotated[float, typer.Option(help="site latitude [deg]")],
          lon: Annotated[float, typer.Option(help="site longitude [deg]")],
          url: Annotated[str | None, typer.Option(
              help="the service URL [Open-Meteo's forecast API]")] = None,
          tz: Tz = None, data_dir: DataDir = None, db_url: DbUrl = None,
          mqtt_host: MqttHost = None, mqtt_port: MqttPort = None, dry_run: DryRun = False
          ) -> None:
    """Fetch today's forecast from Open-Meteo (adapter greeniot.forecasts.openmeteo) and post
    it. Data by Open-Meteo.com (CC BY 4.0)."""
    import httpx

    from greeniot.forecasts.openmeteo import OpenMeteo

    om = OpenMeteo()
    target = url or om.url(lat, lon)
    if url is not None:  # a mirror or a saved response: same query
        target = url + ("&" if "?" in url else "?") + om.url(lat, lon).split("?", 1)[1]
    try:
        resp = httpx.get(target, timeout=30.0)
    except httpx.HTTPError as err:
        raise _fail(f"{target.split('?')[0]}: {err}") from err
    if resp.status_code != 200:
        reason = resp.text[:200]
        with contextlib.suppress(ValueError, AttributeError):
            reason = json.loads(resp.text).get("reason", reason)
        raise _fail(f"{target.split('?')[0]} answered {resp.status_code}: {reason}")
    try:
        days = om.parse(resp.content)
    except ForecastInputError as err:
        raise _fail(str(err)) from err
    fcs = _forecasts(days, site, tz, data_dir, db_url, False, None, om.name)
    _emit(site, fcs, dry_run, mqtt_host, mqtt_port)
