"""Valve commands: send one through the injected commander, and follow it to its ack.

Before a command goes out the API checks what the registry knows: the device exists and is a
valve, the zone is the valve's own, the run time is within the zone's ``max_run_s``, the task
exists. The commander records the command (``pending`` → ``sent``) and the node's ack settles
it; ``GET /commands/{id}`` shows where it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi import status as http
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from greeniot.api.deps import CommanderDep, SessionDep
from greeniot.api.schemas import Offset
from greeniot.api.security import OperatorDep, ViewerDep, require_site
from greeniot.registry import audit, crud
from greeniot.registry.errors import ConflictError, InvalidInputError, NotFoundError
from greeniot.registry.models import Command
from greeniot.registry.schemas import CommandPublic, CommandRequest, Id
from greeniot.registry.vocab import CommandState

log = logging.getLogger(__name__)
router = APIRouter(tags=["valves"])


def _check(session: Session, site: str, device: str, body: CommandRequest) -> str | None:
    """Validate the request against the registry; returns the zone. Ends the transaction so
    that no SQLite lock is held while the commander (another connection) records the
    command."""
    try:
        valve = crud.get_device(session, site=site, device=device)
        if valve.kind != "valve":
            raise ConflictError(f"device '{device}' at site '{site}' is a {valve.kind} device, "
                                "not a valve")
        zone_id = body.zone or valve.zone_id
        if body.zone is not None and valve.zone_id is not None and body.zone != valve.zone_id:
            raise InvalidInputError(f"valve '{device}' waters zone '{valve.zone_id}', "
                                    f"not '{body.zone}'")
        if zone_id is not None and body.max_run_s is not None:
            zone = crud.get_zone(session, site=site, zone=zone_id)
            if body.max_run_s > zone.max_run_s:
                raise InvalidInputError(f"max_run_s {body.max_run_s} exceeds zone "
                                        f"'{zone_id}' max_run_s {zone.max_run_s}")
        if body.task_id is not None:
            try:
                crud.get_task(session, task_id=body.task_id)
            except NotFoundError as err:
                raise InvalidInputError(f"task {body.task_id} does not exist") from err
        return zone_id
    finally:
        session.rollback()


@router.post("/valves/{site}/{device}/commands", response_model=CommandPublic,
             status_code=http.HTTP_202_ACCEPTED,
             responses={404: {"description": "unknown device"},
                        409: {"description": "the device is not a valve"},
                        422: {"description": "invalid command for this valve"},
                        502: {"description": "the commander could not publish"},
                        503: {"description": "no commander configured"}})
async def send_command(site: Id, device: Id, body: CommandRequest, session: SessionDep,
                       who: OperatorDep, commander: CommanderDep) -> Command:
    """Accepted = recorded and published; the node's ack arrives later (see ``state``).
    Operator+, on the caller's sites; audited as ``valve_command``."""
    require_site(who, site)
    zone = await run_in_threadpool(_check, session, site, device, body)
    try:
        cmd_id = await commander.send(site=site, device=device, op=body.op,
                                      max_run_s=body.max_run_s, reason=body.reason, zone=zone,
                                      task_id=body.task_id)
    except ValueError as err:  # refused by the protocol before anything was recorded
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    except Exception as err:  # recorded as failed by the commander; say why
        log.warning("valve command to %s/%s failed: %r", site, device, err)
        raise HTTPException(http.HTTP_502_BAD_GATEWAY, f"command not sent: {err}") from err
    try:
        cmd = await run_in_threadpool(crud.get_command, session, command_id=cmd_id)
    except NotFoundError as err:
        raise HTTPException(http.HTTP_502_BAD_GATEWAY,
                            f"commander returned '{cmd_id}' but recorded no such command"
                            ) from err
    await run_in_threadpool(_audit_command, session, cmd)
    return cmd


def _audit_command(session: Session, cmd: Command) -> None:
    """The commander records the command on its own connection: log it here."""
    audit.record(session, op="valve_command", entity="commands", key=cmd.id,
                 after=CommandPublic.model_validate(cmd).model_dump(mode="json"))
    session.commit()


@router.get("/commands", response_model=list[CommandPublic])
def list_commands(session: SessionDep, who: ViewerDep, site: Id | None = None,
                  device: Id | None = None,
                  state: CommandState | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Offset = 0) -> Sequence[Command]:
    """Newest first."""
    return crud.list_commands(session, site=site, device=device, state=state, limit=limit,
                              offset=offset)


@router.get("/commands/{command_id}", response_model=CommandPublic)
def get_command(session: SessionDep, who: ViewerDep, command_id: str) -> Command:
    return crud.get_command(session, command_id=command_id)
