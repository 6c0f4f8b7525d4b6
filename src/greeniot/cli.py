"""The one CLI: ``greeniot ingest | analytics | api | simulate | demo``.

Settings are built once here (environment ``GREENIOT_*`` plus these options) and passed down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from greeniot.config import Settings, unknown_env
from greeniot.logs import setup_logging

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="greeniot: smart-maintenance backend for urban greenery.")

MqttHost = Annotated[str | None, typer.Option(help="MQTT broker host [GREENIOT_MQTT__HOST]")]
MqttPort = Annotated[int | None, typer.Option(help="MQTT broker port [GREENIOT_MQTT__PORT]")]
InfluxUrl = Annotated[str | None, typer.Option(help="InfluxDB URL [GREENIOT_INFLUX__URL]")]
DataDir = Annotated[Path | None, typer.Option(help="data folder [GREENIOT_DATA_DIR]")]
DbUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL [GREENIOT_DB_URL]")]


def build_settings(*, mqtt_host: str | None = None, mqtt_port: int | None = None,
                   influx_url: str | None = None, data_dir: Path | None = None,
                   db_url: str | None = None, **extra: Any) -> Settings:
    over: dict[str, Any] = dict(extra)
    mqtt = {k: v for k, v in (("host", mqtt_host), ("port", mqtt_port)) if v is not None}
    if mqtt:
        over["mqtt"] = mqtt
    if influx_url:
        over["influx"] = {"url": influx_url}
    if data_dir:
        over["data_dir"] = data_dir
    if db_url:
        over["db_url"] = db_url
    unknown = unknown_env(os.environ)
    if unknown:
        raise typer.BadParameter(f"unknown setting(s) {', '.join(unknown)}: see "
                                 "src/greeniot/config.py for the GREENIOT_* names")
    try:
        settings = Settings(**over)
    except Exception as err:  # pydantic names the variable; show it without a traceback
        raise typer.BadParameter(str(err)) from err
    setup_logging(settings.log_level, json_lines=settings.log_json)
    return settings


async def _until_signal(main: Any) -> None:
    """Run ``main`` (a coroutine) until it ends or SIGINT/SIGTERM arrives.

    A failure ends the process with one error line (the traceback only at
    ``GREENIOT_LOG_LEVEL=DEBUG`` or in JSON logs) and exit status 1.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception as err:
        logging.getLogger("greeniot").error("stopped: %s: %s", type(err).__name__, err,
                                            exc_info=err)
        raise typer.Exit(1) from err


def _version(value: bool) -> None:
    if value:
        from greeniot.api.deps import package_version

        typer.echo(f"greeniot {package_version()}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="print the installed version and exit")] = False) -> None:
    """greeniot: smart-maintenance backend for urban greenery."""


@app.command()
def ingest(mqtt_host: MqttHost = None, mqtt_port: MqttPort = None, influx_url: InfluxUrl = None,
           data_dir: DataDir = None, db_url: DbUrl = None,
           worker: Annotated[int, typer.Option(help="worker index (shared subscription)")] = 0
           ) -> None:
    """MQTT → validation → spool → InfluxDB. Acks only what is durable."""
    from greeniot.ingest.run import run_ingest

    s = build_settings(mqtt_host=mqtt_host, mqtt_port=mqtt_port, influx_url=influx_url,
                       data_dir=data_dir, db_url=db_url)
    asyncio.run(_until_signal(run_ingest(s, worker=worker)))


@app.command()
def analytics(mqtt_host: MqttHost = None, mqtt_port: MqttPort = None,
              data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Detectors over all devices, then actions: valve commands, tasks, alerts."""
    from greeniot.runtime.processes import run_maintenance

    s = build_settings(mqtt_host=mqtt_host, mqtt_port=mqtt_port, data_dir=data_dir,
                       db_url=db_url)
    asyncio.run(_until_signal(run_maintenance(s)))


@app.command()
def api(mqtt_host: MqttHost = None, mqtt_port: MqttPort = None, influx_url: InfluxUrl = None,
        data_dir: DataDir = None, db_url: DbUrl = None,
        host: Annotated[str | None, typer.Option(
            help="listen address [GREENIOT_API__HOST, default 127.0.0.1]")] = None,
        port: Annotated[int | None, typer.Option(
            help="listen port [GREENIOT_API__PORT, default 8000]")] = None) -> None:
    """The HTTP API (OpenAPI docs at /docs)."""
    from greeniot.api.app import app_secret
    from greeniot.runtime.processes import run_api

    api_over = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    s = build_settings(mqtt_host=mqtt_host, mqtt_port=mqtt_port, influx_url=influx_url,
                       data_dir=data_dir, db_url=db_url, **({"api": api_over} if api_over else {}))
    try:
        app_secret(s)  # before any connection: no API without its secret
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    asyncio.run(_until_signal(run_api(s)))


@app.command()
def simulate(mqtt_host: MqttHost = None, mqtt_port: MqttPort = None,
             scenario: Annotated[str, typer.Option(help="calm | drought | typhoon")] = "typhoon",
             trees: Annotated[int, typer.Option(help="trees per site")] = 20,
             zones: Annotated[int, typer.Option(help="irrigation zones per site")] = 4,
             sites: Annotated[int, typer.Option(help="number of sites")] = 1,
             span_h: Annotated[float, typer.Option(help="simulated hours")] = 48.0,
             duration_s: Annotated[float, typer.Option(help="wall seconds (0 = max speed)")]
             = 60.0,
             seed: Annotated[int, typer.Option(help="random seed")] = 1) -> None:
    """Publish a simulated estate over MQTT, exactly as the firmware does."""
    from greeniot.runtime.processes import run_simulation

    s = build_settings(mqtt_host=mqtt_host, mqtt_port=mqtt_port)
    asyncio.run(_until_signal(run_simulation(
        s, scenario=scenario, sites=sites, trees=trees, zones=zones, span_h=span_h,
        duration_s=duration_s, seed=seed)))


@app.command()
def demo(data_dir: Annotated[Path, typer.Option(help="where services keep their data")]
         = Path("demo-data"),
         duration: Annotated[float, typer.Option(help="stop after this many seconds "
                                                      "(0 = until Ctrl-C)")] = 0.0,
         trees: Annotated[int, typer.Option(help="trees in the estate")] = 24,
         zones: Annotated[int, typer.Option(help="irrigation zones")] = 4,
         scenario_s: Annotated[float, typer.Option(help="wall seconds per scenario")] = 40.0,
         api_port: Annotated[int, typer.Option(help="API port (0 = a free one)")] = 8000,
         firmware: Annotated[bool, typer.Option(help="run real MicroPython valve nodes")]
         = True,
         fresh: Annotated[bool, typer.Option(help="start from empty services and registry")]
         = True) -> None:
    """Local Mosquitto + InfluxDB, ingest, analytics, API and a simulated estate living
    through a typhoon and a drought in compressed time."""
    from greeniot.runtime.demo import run_demo

    s = build_settings(data_dir=data_dir.resolve())
    asyncio.run(_until_signal(run_demo(s, duration_s=duration, trees=trees, zones=zones,
                                       scenario_s=scenario_s, api_port=api_port,
                                       firmware=firmware, fresh=fresh)))


@app.command()
def homeassistant(mqtt_host: MqttHost = None, mqtt_port: MqttPort = None,
                  data_dir: DataDir = None, db_url: DbUrl = None,
                  prefix: Annotated[str, typer.Option(help="Home Assistant's discovery prefix")]
                  = "homeassistant",
                  remove: Annotated[bool, typer.Option(help="delete the configs instead")]
                  = False) -> None:
    """Publish Home Assistant MQTT discovery configs for the registry's trees, zones and
    valves (retained), so Home Assistant shows them."""
    from greeniot.homeassistant import announce

    s = build_settings(mqtt_host=mqtt_host, mqtt_port=mqtt_port, data_dir=data_dir,
                       db_url=db_url)
    asyncio.run(_until_signal(announce(s, prefix=prefix, remove=remove)))


# Registry administration: the roster and alert routes (kept in their own module).
from greeniot.cli_lifecycle import roster_app, routes_app  # noqa: E402

app.add_typer(roster_app, name="roster")
app.add_typer(routes_app, name="routes")
from greeniot.cli_irrigation import decisions_app  # noqa: E402

app.add_typer(decisions_app, name="decisions")
from greeniot import cli_estate  # noqa: E402  (ledger, complaints, calendar, ... groups)
from greeniot.cli_forecast import forecast as forecast_app  # noqa: E402

app.add_typer(forecast_app, name="forecast")

cli_estate.register(app)
users = typer.Typer(no_args_is_help=True, help="Accounts: add, list, disable, API keys.")
app.add_typer(users, name="users")


def _accounts_session(data_dir: Path | None, db_url: str | None) -> Any:
    from greeniot.registry.db import make_engine, migrate, session_factory

    engine = make_engine(build_settings(data_dir=data_dir, db_url=db_url))
    migrate(engine)
    return engine, session_factory(engine)


@contextlib.contextmanager
def _registry_errors() -> Any:
    from greeniot.registry.errors import RegistryError

    try:
        yield
    except RegistryError as err:
        raise typer.BadParameter(str(err)) from err


@users.command("add")
def users_add(username: str,
              role: Annotated[str, typer.Option(help="viewer | crew | operator | admin")],
              service: Annotated[bool, typer.Option(
                  help="a service account (API keys, no password)")] = False,
              password: Annotated[str | None, typer.Option(
                  help="asked for when not given [GREENIOT_USER_PASSWORD]",
                  envvar="GREENIOT_USER_PASSWORD")] = None,
              display_name: Annotated[str, typer.Option(help="shown on the crew page")] = "",
              locale: Annotated[str, typer.Option(help="zh_Hans | en")] = "zh_Hans",
              tz: Annotated[str, typer.Option(help="IANA time zone")] = "Asia/Shanghai",
              site: Annotated[list[str] | None, typer.Option(
                  help="a site the user works on (repeat; none = all)")] = None,
              data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Create an account."""
    from greeniot.registry import accounts

    if not service and password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    engine, sessions = _accounts_session(data_dir, db_url)
    try:
        with sessions() as session, _registry_errors():
            user = accounts.create_user(
                session, username=username, role=role, password=password,
                kind="service" if service else "person", display_name=display_name,
                locale=locale, tz=tz, sites=site or [])
            typer.echo(f"added {user.kind} {user.username} ({user.role})")
    finally:
        engine.dispose()


@users.command("list")
def users_list(data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """One line per account: name, role, kind, locale, sites, state."""
    from greeniot.registry import accounts

    engine, sessions = _accounts_session(data_dir, db_url)
    try:
        with sessions() as session:
            for u in accounts.list_users(session):
                typer.echo(f"{u.username}\t{u.role}\t{u.kind}\t{u.locale}\t"
                           f"{','.join(u.sites) or '*'}\t"
                           f"{'disabled' if u.disabled else 'active'}")
    finally:
        engine.dispose()


@users.command("disable")
def users_disable(username: str, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Disable an account; its tokens and API keys stop working at once."""
    from greeniot.registry import accounts

    engine, sessions = _accounts_session(data_dir, db_url)
    try:
        with sessions() as session, _registry_errors():
            accounts.update_user(session, username=username, disabled=True)
            typer.echo(f"disabled {username}")
    finally:
        engine.dispose()


@users.command("key")
def users_key(username: str, name: Annotated[str, typer.Option(help="what it is for")] = "",
              data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Issue an API key for a service account (printed once)."""
    from greeniot.registry import accounts

    engine, sessions = _accounts_session(data_dir, db_url)
    try:
        with sessions() as session, _registry_errors():
            user = accounts.get_user(session, username=username)
            key, _row = accounts.issue_token(session, user=user, kind="api_key", name=name)
            typer.echo(key)
    finally:
        engine.dispose()
devices_app = typer.Typer(no_args_is_help=True, help="Device fleet: credentials and ACLs.")
app.add_typer(devices_app, name="devices")


@devices_app.command("provision")
def devices_provision(
        out: Annotated[Path, typer.Option(help="output folder (passwd, acl, device configs)")]
        = Path("provision"),
        mqtt_host: Annotated[str, typer.Option(help="broker address the devices use")]
        = "127.0.0.1",
        mqtt_port: Annotated[int, typer.Option(help="device listener port")] = 8883,
        tls: Annotated[bool, typer.Option(help="make a CA and server certificate")] = True,
        tls_host: Annotated[list[str] | None, typer.Option(
            help="server certificate names/IPs (default: --mqtt-host)")] = None,
        data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Per-device credentials ($7$ password file), ACL bound to each device's own site and
    id, firmware config files and (with --tls) a CA and server certificate, for every device
    in the registry."""
    from sqlalchemy import select

    from greeniot.provision.acl import DeviceId
    from greeniot.provision.bundle import provision
    from greeniot.registry.db import make_engine, migrate, session_factory
    from greeniot.registry.models import Device

    s = build_settings(data_dir=data_dir, db_url=db_url)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(s)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            rows = session.execute(select(Device.site, Device.id, Device.kind)
                                   .order_by(Device.site, Device.id)).all()
    finally:
        engine.dispose()
    devices = [DeviceId(site, dev, kind) for site, dev, kind in rows]
    b = provision(out, devices, mqtt_host=mqtt_host, mqtt_port=mqtt_port, tls=tls,
                  tls_hosts=tls_host or [])
    typer.echo(f"{len(devices)} devices → {b.passwd}, {b.acl}, {out / 'devices'}/"
               f"{' and ' + str(b.tls.ca_cert) if b.tls else ''}; listener: {b.listener_conf}")


@devices_app.command("remount")
def devices_remount(
        site: Annotated[str, typer.Argument(help="site id")],
        device: Annotated[str, typer.Argument(help="tilt device id")],
        since_ms: Annotated[int | None, typer.Option(
            help="re-learn the baseline from this time [ms UTC] (default: now)")] = None,
        by: Annotated[str, typer.Option(help="who confirms (for the audit log)")] = "cli",
        data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Record that a crew re-mounted a tilt sensor: analytics re-learns the tree's baseline
    from then on (at its next registry refresh)."""
    from greeniot.registry.audit import set_actor
    from greeniot.registry.clock import wall_clock_ms
    from greeniot.registry.db import make_engine, migrate, session_factory
    from greeniot.registry.errors import RegistryError
    from greeniot.registry.remount import confirm_remount

    s = build_settings(data_dir=data_dir, db_url=db_url)
    engine = make_engine(s)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            set_actor(session, actor=by, action="greeniot devices remount")
            try:
                since = confirm_remount(session, site=site, device=device,
                                        since_ms=wall_clock_ms() if since_ms is None
                                        else since_ms)
            except RegistryError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(1) from err
    finally:
        engine.dispose()
    typer.echo(f"re-mount of {site}/{device} recorded; baseline re-learned from {since}")


def main() -> None:
    app()
