"""CLI commands of estate management: ``ledger``, ``complaints``, ``calendar``, ``contractors``,
``sunlight``. Each opens the registry of ``--data-dir``/``--db-url`` (migrating it), does one
thing and prints a report; exit code 1 when the input was refused (a ledger import with bad
rows exits 0 if it imported what was good, 2 with ``--strict``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from greeniot.registry.errors import RegistryError

if TYPE_CHECKING:  # the ORM loads with the commands that use it, not with the CLI
    from sqlalchemy.orm import Session

DataDir = Annotated[Path | None, typer.Option(help="data folder [GREENIOT_DATA_DIR]")]
DbUrl = Annotated[str | None, typer.Option(help="SQLAlchemy URL [GREENIOT_DB_URL]")]
Site = Annotated[str | None, typer.Option(help="only this site")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]

ledger = typer.Typer(no_args_is_help=True, help="Tree ledger: import, export, retire.")
complaints = typer.Typer(no_args_is_help=True, help="Hotline complaints and hotspots.")
calendar = typer.Typer(no_args_is_help=True, help="Maintenance calendar: seasonal work.")
contractors = typer.Typer(no_args_is_help=True, help="Contractor assessment.")
sunlight = typer.Typer(no_args_is_help=True, help="Winter-solstice sunlight of windows.")



def register(app: typer.Typer) -> None:
    """Add the command groups to the main app of :mod:`greeniot.cli`."""
    for name, sub in (("ledger", ledger), ("complaints", complaints), ("calendar", calendar),
                      ("contractors", contractors), ("sunlight", sunlight)):
        app.add_typer(sub, name=name)


@contextmanager
def _session(data_dir: Path | None, db_url: str | None) -> Iterator[Session]:
    from greeniot.cli import build_settings  # the CLI's one Settings factory
    from greeniot.registry.db import make_engine, migrate, session_factory

    settings = build_settings(data_dir=data_dir, db_url=db_url)
    engine = make_engine(settings)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            try:
                yield session
            except (RegistryError, ValidationError, ValueError) as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _ms(text: str | None) -> int | None:
    """``YYYY-MM-DD`` or ISO date-time (UTC unless an offset is given) → ms."""
    if text is None:
        return None
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


# --- ledger --------------------------------------------------------------------------------

@ledger.command("import")
def ledger_import(file: Annotated[Path, typer.Argument(help=".csv or .geojson file")],
                  layer: Annotated[str | None, typer.Option(
                      help="layer of a CSV file (sites|zones|trees|devices); default from "
                           "its name")] = None,
                  strict: Annotated[bool, typer.Option(help="exit 2 if any row is refused")]
                  = False,
                  json_out: AsJson = False, data_dir: DataDir = None,
                  db_url: DbUrl = None) -> None:
    """Import sites, zones, trees, devices; lists every refused row with its reason."""
    from greeniot.registry.ledger import LedgerFormatError, import_file, layer_of

    with _session(data_dir, db_url) as session:
        try:
            report = import_file(session, file, layer=layer_of(layer) if layer else None)
        except (LedgerFormatError, OSError) as err:
            typer.echo(f"error: {file}: {err}", err=True)
            raise typer.Exit(1) from None
        if json_out:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        else:
            typer.echo(f"import {file}")
            typer.echo("\n".join(report.lines()))
    if strict and report.errors:
        raise typer.Exit(2)


@ledger.command("export")
def ledger_export(fmt: Annotated[str, typer.Option("--format", help="geojson | csv")]
                  = "geojson",
                  layer: Annotated[str | None, typer.Option(help="one layer only")] = None,
                  site: Site = None,
                  out: Annotated[Path | None, typer.Option(help="file (default stdout)")]
                  = None, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Export the ledger; trees carry risk, last inspection and open tasks."""
    from greeniot.registry.ledger import LAYERS, layer_of
    from greeniot.registry.ledger_export import export_csv, export_geojson

    with _session(data_dir, db_url) as session:
        one = layer_of(layer) if layer else None
        if fmt == "csv":
            text = export_csv(session, layer=one or "trees", site=site)
        elif fmt == "geojson":
            text = json.dumps(export_geojson(session, site=site,
                                             layers=(one,) if one else LAYERS),
                              ensure_ascii=False, indent=1)
        else:
            raise typer.BadParameter(f"--format {fmt!r}: geojson or csv")
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@ledger.command("retire")
def ledger_retire(site: Annotated[str, typer.Argument()], tree: Annotated[str, typer.Argument()],
                  reason: Annotated[str, typer.Option(help="felled|replaced|died|removed")],
                  by: Annotated[str, typer.Option(help="who")],
                  note: str = "",
                  date: Annotated[str | None, typer.Option(help="local date YYYY-MM-DD")]
                  = None,
                  successor: Annotated[str | None, typer.Option(
                      help="id of the replanted tree")] = None,
                  species: Annotated[str | None, typer.Option(help="successor's species")]
                  = None, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Retire a tree (it keeps its history); ``--successor`` plants its replacement."""
    from greeniot.registry.retire import local_date_ms, retire_tree
    from greeniot.registry.schemas import TreeCreate

    with _session(data_dir, db_url) as session:
        when = local_date_ms(session, site, dt.date.fromisoformat(date)) if date else None
        new = TreeCreate(site=site, id=successor, species=species) if successor else None
        row = retire_tree(session, site=site, tree=tree, reason=reason, by=by, note=note,
                          retired_ms=when, successor=new)
        typer.echo(f"tree {site}/{tree} retired ({row.retired_reason})"
                   + (f", successor {row.successor_id}" if row.successor_id else ""))


# --- complaints ----------------------------------------------------------------------------

@complaints.command("file")
def complaints_file(site: Annotated[str, typer.Option()],
                    category: Annotated[str, typer.Option(
                        help="leaning_or_fallen|blocked_light|overgrown|pests|"
                             "irrigation_leak|green_damaged|other")],
                    channel: Annotated[str, typer.Option(help="hotline_12345|app|walk_in")]
                    = "hotline_12345",
                    tree: str | None = None, location: str = "", text: str = "",
                    ticket: str | None = None, reporter_name: str | None = None,
                    reporter_phone: str | None = None,
                    received: Annotated[str | None, typer.Option(
                        help="when received (ISO, UTC)")] = None,
                    data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Record a complaint; it opens a task or joins the open one for the same tree/place."""
    from greeniot.registry.complaints import ComplaintCreate, file_complaint

    with _session(data_dir, db_url) as session:
        data = ComplaintCreate(site=site, category=category, channel=channel,
                               tree=tree, location=location, text=text, ticket=ticket,
                               reporter_name=reporter_name, reporter_phone=reporter_phone,
                               received_ms=_ms(received))
        c, created = file_complaint(session, data)
        verb = "joined" if c.joined else "opened"
        typer.echo(f"complaint {c.ticket}: {verb} task {c.task_id}"
                   + ("" if created else " (ticket known, unchanged)"))


@complaints.command("reply")
def complaints_reply(ticket: Annotated[str, typer.Argument()],
                     by: Annotated[str, typer.Option()], text: Annotated[str, typer.Option()],
                     data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Record the reply given to the resident."""
    from greeniot.registry.complaints import reply_complaint

    with _session(data_dir, db_url) as session:
        c = reply_complaint(session, ticket, by=by, text=text)
        typer.echo(f"complaint {c.ticket}: replied by {c.replied_by} at {c.reply_ms}")


@complaints.command("hotspots")
def complaints_hotspots(since: Annotated[str | None, typer.Option(help="ISO date")] = None,
                        until: Annotated[str | None, typer.Option(help="ISO date")] = None,
                        site: Site = None, top: int = 10, json_out: AsJson = False,
                        data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Complaints per compound, category and month; top compounds; repeat locations."""
    from greeniot.registry.hotspots import hotspot_report

    with _session(data_dir, db_url) as session:
        report = hotspot_report(session, since_ms=_ms(since), until_ms=_ms(until), site=site,
                                top=top)
    typer.echo(json.dumps(report.as_dict(), indent=2) if json_out
               else "\n".join(report.lines()))


# --- calendar ------------------------------------------------------------------------------

@calendar.command("add")
def calendar_add(site: Annotated[str, typer.Option()],
                 work: Annotated[str, typer.Option(help="winter_watering|whitewash|"
                                                        "freeze_protection|drainage_round|"
                                                        "pruning|pest_patrol|"
                                                        "irrigation_service")],
                 start: Annotated[str, typer.Option(help="MM-DD")],
                 end: Annotated[str, typer.Option(help="MM-DD")],
                 every_days: int | None = None, hour: int = 8, priority: int = 3,
                 contractor: str | None = None, zone: str | None = None,
                 data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Add a seasonal rule to a site."""
    from greeniot.registry.calendar import CalendarRuleCreate, add_rule

    with _session(data_dir, db_url) as session:
        rule = add_rule(session, CalendarRuleCreate(
            site=site, work=work, start_md=start, end_md=end,
            every_days=every_days, hour_local=hour, priority=priority, contractor=contractor,
            zone=zone))
        typer.echo(f"rule {rule.id}: {rule.site} {rule.work} {rule.start_md}..{rule.end_md}")


@calendar.command("presets")
def calendar_presets(site: Annotated[str, typer.Option()], contractor: str | None = None,
                     data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Install the example seasonal rules a site does not have yet."""
    from greeniot.registry.calendar import install_presets

    with _session(data_dir, db_url) as session:
        for rule in install_presets(session, site, contractor=contractor):
            typer.echo(f"rule {rule.id}: {rule.work} {rule.start_md}..{rule.end_md}"
                       + (f" every {rule.every_days} d" if rule.every_days else ""))


@calendar.command("list")
def calendar_list(site: Site = None, data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    from greeniot.registry.calendar import list_rules

    with _session(data_dir, db_url) as session:
        for r in list_rules(session, site=site):
            typer.echo(f"{r.id:>4} {r.site:<14} {r.work:<20} {r.start_md}..{r.end_md} "
                       f"{'every ' + str(r.every_days) + ' d' if r.every_days else 'once':<12}"
                       f" {'on' if r.enabled else 'off'}")


@calendar.command("run")
def calendar_run(at: Annotated[str | None, typer.Option(
                     help="run as of this time (ISO, UTC); default now")] = None,
                 data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Open the tasks of due occurrences (idempotent: a second run opens nothing)."""
    from greeniot.registry.calendar import run_calendar

    with _session(data_dir, db_url) as session:
        opened = run_calendar(session, _ms(at))
    for o in opened:
        typer.echo(f"rule {o.rule_id} {o.local_date}: task {o.task_id}")
    typer.echo(f"opened {len(opened)} task(s)")


# --- contractors ---------------------------------------------------------------------------

@contractors.command("score")
def contractors_score(month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
                      contractor: str | None = None,
                      csv_out: Annotated[Path | None, typer.Option(
                          "--csv", help="also write the table as CSV")] = None,
                      data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """The score table per contractor and month (rules in docs/estate.md)."""
    from greeniot.reports.contractors import score_contractors, table_lines, to_csv

    with _session(data_dir, db_url) as session:
        rows = score_contractors(session, month=month, contractor=contractor)
    typer.echo("\n".join(table_lines(rows)))
    if csv_out is not None:
        csv_out.write_text(to_csv(rows), encoding="utf-8")
        typer.echo(f"wrote {csv_out}")


# --- sunlight ------------------------------------------------------------------------------

@sunlight.command("check")
def sunlight_check(site: Annotated[str, typer.Option()],
                   lat: Annotated[float, typer.Option()], lon: Annotated[float, typer.Option()],
                   height: Annotated[float, typer.Option(help="window above ground [m]")],
                   facing: Annotated[float, typer.Option(
                       help="azimuth the window faces, clockwise from north [deg]")],
                   name: str = "window", year: int | None = None,
                   threshold_h: Annotated[float, typer.Option(
                       help="required hours of direct sun (policy)")] = 1.5,
                   radius: Annotated[float, typer.Option(help="trees within [m]")] = 50.0,
                   open_tasks: Annotated[bool, typer.Option(
                       help="open pruning tasks for the named trees")] = False,
                   json_out: AsJson = False, data_dir: DataDir = None,
                   db_url: DbUrl = None) -> None:
    """Hours of direct sun on the winter solstice; trees to prune when it falls short."""
    from greeniot.sunlight.check import Window, check_window

    with _session(data_dir, db_url) as session:
        r = check_window(session, Window(site=site, lat=lat, lon=lon, height_m=height,
                                         facing_deg=facing, name=name),
                         year=year, threshold_h=threshold_h, radius_m=radius,
                         open_tasks=open_tasks)
    if json_out:
        typer.echo(json.dumps(r.as_dict(), indent=2))
        return
    lines: list[Any] = [
        f"{name} at {site} ({lat}, {lon}), {height} m, facing {facing}°, {r.date}",
        f"  sun in front, open sky: {r.open_sky_h:.2f} h",
        f"  direct sun with trees:  {r.direct_h:.2f} h (needs {r.threshold_h:.2f} h): "
        + ("OK" if r.ok else "SHORT"),
        "  sunny: " + (", ".join(f"{a}-{b}" for a, b in r.sunny_periods) or "never"),
    ]
    lines += [f"  tree {t} shadows {h:.2f} h" for t, h in r.blocked_h.items()]
    if not r.ok:
        lines.append(f"  prune: {', '.join(r.prune)} -> {r.restored_h:.2f} h" if r.prune
                     else "  pruning cannot restore it (orientation or open sky too short)")
    lines += [f"  skipped {t}: {why}" for t, why in r.skipped.items()]
    if r.task_ids:
        lines.append(f"  pruning tasks: {', '.join(map(str, r.task_ids))}")
    typer.echo("\n".join(lines))
