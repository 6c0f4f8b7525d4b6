"""``greeniot roster add/list`` and ``greeniot routes add/list/remove``: the responsibility
chain of a site and where alerts go, edited in the registry (migrated first)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from greeniot.cli import DataDir, DbUrl, build_settings
from greeniot.registry.errors import RegistryError

if TYPE_CHECKING:  # the ORM loads with the commands that use it, not with the CLI
    from sqlalchemy.orm import Session

roster_app = typer.Typer(no_args_is_help=True, help="A site's responsibility chain: crew → "
                         "contractor → property_manager → authority.")
routes_app = typer.Typer(no_args_is_help=True, help="Alert routes: which alerts go to which "
                         "recipient (MQTT, signed webhook, apprise URL).")


@contextmanager
def registry_session(data_dir: DataDir, db_url: DbUrl) -> Iterator[Session]:
    """A migrated registry session; a RegistryError becomes a plain CLI error."""
    from greeniot.registry.db import make_engine, migrate, session_factory

    engine = make_engine(build_settings(data_dir=data_dir, db_url=db_url))
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            try:
                yield session
            except RegistryError as err:  # the registry names what is wrong: say it plainly
                raise typer.BadParameter(str(err)) from err
    finally:
        engine.dispose()


Locale = Annotated[str | None, typer.Option(
    help="language of the notifications: zh_Hans | en (default: the user account of the "
         "same name, else GREENIOT_DELIVERY__LOCALE)")]
Tz = Annotated[str | None, typer.Option(help="IANA time zone of the dates in them (default: "
                                             "the site's)")]


@roster_app.command("add")
def roster_add(site: Annotated[str, typer.Argument(help="site id")],
               name: Annotated[str, typer.Argument(help="the person's name")],
               role: Annotated[str, typer.Option(
                   help="crew | contractor | property_manager | authority")] = "crew",
               rank: Annotated[int, typer.Option(help="order within the role, lowest "
                                                      "first")] = 0,
               contact: Annotated[str, typer.Option(help="phone or e-mail, for people")] = "",
               notify: Annotated[str | None, typer.Option(
                   help="where notifications go: an apprise URL (mailto://, wecombot://, "
                        "dingtalk://, tgram:// ...) or 'mqtt'")] = None,
               locale: Locale = None, tz: Tz = None,
               data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Put a person on a site's chain."""
    from greeniot.registry import crud

    with registry_session(data_dir, db_url) as s:
        entry = crud.add_person(s, site=site, name=name, role=role, rank=rank, contact=contact,
                                notify_url=notify, locale=locale, tz=tz)
        typer.echo(f"added {entry.name} ({entry.role}, rank {entry.rank}) to {entry.site}")


@roster_app.command("list")
def roster_list(site: Annotated[str | None, typer.Option(help="only this site")] = None,
                data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """The chain in escalation order, one person a line."""
    from greeniot.api.routes.lifecycle import hide
    from greeniot.registry import crud

    with registry_session(data_dir, db_url) as s:
        for e in crud.list_roster(s, site=site):
            url = (hide("apprise", e.notify_url) if e.notify_url not in (None, "mqtt")
                   else e.notify_url)
            state = "active" if e.active else "inactive"
            typer.echo(f"{e.site}\t{e.role}\t{e.rank}\t{e.name}\t{e.contact or '-'}\t"
                       f"{url or '-'}\t{state}")


@routes_app.command("add")
def routes_add(name: Annotated[str, typer.Argument(help="the recipient's label")],
               kind: Annotated[str, typer.Option(help="mqtt | webhook | apprise")],
               target: Annotated[str, typer.Option(help="'mqtt', an http(s) URL or an "
                                                        "apprise URL")],
               site: Annotated[str | None, typer.Option(help="only this site (default: "
                                                             "all)")] = None,
               min_severity: Annotated[str, typer.Option(help="info | warning | "
                                                              "critical")] = "warning",
               secret: Annotated[str | None, typer.Option(
                   help="webhook signing key (16+ characters)")] = None,
               rate_max: Annotated[int | None, typer.Option(help="messages per window")]
               = None,
               rate_window_s: Annotated[int | None, typer.Option(help="window [s]")] = None,
               locale: Locale = None, tz: Tz = None,
               data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Subscribe a recipient to a site's alerts at or above a severity."""
    from greeniot.api.routes.lifecycle import hide
    from greeniot.registry import crud

    with registry_session(data_dir, db_url) as s:
        r = crud.add_route(s, name=name, kind=kind, target=target, site=site,
                           min_severity=min_severity, secret=secret, rate_max=rate_max,
                           rate_window_s=rate_window_s, locale=locale, tz=tz)
        typer.echo(f"route {r.name}: {r.site or 'all sites'} >= {r.min_severity} -> {r.kind} "
                   f"{hide(r.kind, r.target)}")


@routes_app.command("list")
def routes_list(data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Every route, one a line (secrets hidden)."""
    from greeniot.api.routes.lifecycle import hide
    from greeniot.registry import crud

    with registry_session(data_dir, db_url) as s:
        for r in crud.list_routes(s):
            typer.echo(f"{r.name}\t{r.site or '*'}\t>={r.min_severity}\t{r.kind}\t"
                       f"{hide(r.kind, r.target)}\t{'on' if r.enabled else 'off'}")


@routes_app.command("remove")
def routes_remove(name: Annotated[str, typer.Argument(help="the route's name")],
                  data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Remove a route (its past deliveries stay)."""
    from greeniot.registry import crud

    with registry_session(data_dir, db_url) as s:
        crud.delete_route(s, name=name)
        typer.echo(f"removed route {name}")
