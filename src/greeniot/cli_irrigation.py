"""``greeniot decisions list/show``: the stored watering decisions, "no" included, with the
inputs each was based on (the registry, migrated first)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from greeniot.cli import DataDir, DbUrl, build_settings
from greeniot.registry.errors import RegistryError

decisions_app = typer.Typer(no_args_is_help=True, help="Watering decisions of the FAO-56 "
                            "water-balance zones: outcome, Dr, RAW, ET0, depth, run, reasons.")


@contextmanager
def _session(data_dir: DataDir, db_url: DbUrl) -> Iterator[Session]:
    from greeniot.registry.db import make_engine, migrate, session_factory

    engine = make_engine(build_settings(data_dir=data_dir, db_url=db_url))
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            try:
                yield session
            except RegistryError as err:
                raise typer.BadParameter(str(err)) from err
    finally:
        engine.dispose()


@decisions_app.command("list")
def decisions_list(site: Annotated[str | None, typer.Option(help="only this site")] = None,
                   zone: Annotated[str | None, typer.Option(help="only this zone")] = None,
                   outcome: Annotated[str | None, typer.Option(
                       help="water | not_needed | locked_out")] = None,
                   limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
                   data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Newest first, one line each: id, time (ms UTC), lockout codes, the decision's line."""
    from greeniot.registry.decisions import list_decisions

    with _session(data_dir, db_url) as session:
        for d in list_decisions(session, site=site, zone=zone, outcome=outcome, limit=limit):
            codes = ",".join(d.lockouts) or "-"
            typer.echo(f"{d.id}\t{d.ts_ms}\t{codes}\t{d.text}")


@decisions_app.command("show")
def decisions_show(decision_id: Annotated[int, typer.Argument(help="decision id")],
                   data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """One decision with all its inputs, as JSON."""
    from greeniot.registry.decisions import DecisionPublic, get_decision

    with _session(data_dir, db_url) as session:
        row = get_decision(session, decision_id=decision_id)
        typer.echo(json.dumps(DecisionPublic.model_validate(row).model_dump(mode="json"),
                              indent=2, ensure_ascii=False))
