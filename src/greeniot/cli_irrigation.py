"""``greeniot decisions list/show``: the stored watering decisions, "no" included, with the
inputs each was based on (the registry, migrated first)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from greeniot.cli import DataDir, DbUrl
from greeniot.cli_lifecycle import registry_session

decisions_app = typer.Typer(no_args_is_help=True, help="Watering decisions of the FAO-56 "
                            "water-balance zones: outcome, Dr, RAW, ET0, depth, run, reasons.")


@decisions_app.command("list")
def decisions_list(site: Annotated[str | None, typer.Option(help="only this site")] = None,
                   zone: Annotated[str | None, typer.Option(help="only this zone")] = None,
                   outcome: Annotated[str | None, typer.Option(
                       help="water | not_needed | locked_out")] = None,
                   limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
                   data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """Newest first, one line each: id, time (ms UTC), lockout codes, the decision's line."""
    from greeniot.registry.decisions import list_decisions

    with registry_session(data_dir, db_url) as session:
        for d in list_decisions(session, site=site, zone=zone, outcome=outcome, limit=limit):
            codes = ",".join(d.lockouts) or "-"
            typer.echo(f"{d.id}\t{d.ts_ms}\t{codes}\t{d.text}")


@decisions_app.command("show")
def decisions_show(decision_id: Annotated[int, typer.Argument(help="decision id")],
                   data_dir: DataDir = None, db_url: DbUrl = None) -> None:
    """One decision with all its inputs, as JSON."""
    from greeniot.registry.decisions import DecisionPublic, get_decision

    with registry_session(data_dir, db_url) as session:
        row = get_decision(session, decision_id=decision_id)
        typer.echo(json.dumps(DecisionPublic.model_validate(row).model_dump(mode="json"),
                              indent=2, ensure_ascii=False))
