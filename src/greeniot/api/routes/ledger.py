"""The ledger in and out: file import (CSV or GeoJSON), export, retiring and replanting trees.

``POST /ledger/import`` takes the file itself as the request body (``?format=csv&layer=trees``
or ``?format=geojson``) and answers 200 with the import report: rows created, updated,
unchanged, and every refused row with its number and reason. ``DELETE /trees/{site}/{tree}``
retires the tree (its history stays); trees are never deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import status as http
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from greeniot.api.deps import SessionDep
from greeniot.registry.ledger import LAYERS, Format, Layer, LedgerFormatError, import_text
from greeniot.registry.ledger_export import export_csv, export_geojson
from greeniot.registry.models import Tree
from greeniot.registry.retire import RetireReason, local_date_ms, replant_tree, retire_tree
from greeniot.registry.schemas import Id, Person, TreeCreate, TreePublic

router = APIRouter(tags=["ledger"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class RetireBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RetireReason
    by: Person
    note: str = ""
    #: Local date of felling/removal at the site; default today.
    date: dt.date | None = None
    successor: TreeCreate | None = None


@router.post("/ledger/import")
async def import_ledger(session: SessionDep, request: Request,
                        format: Annotated[Format, Query()] = "geojson",
                        layer: Layer | None = None) -> dict[str, Any]:
    """Import a CSV (one layer) or GeoJSON file sent as the body; bad rows are listed."""
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise HTTPException(http.HTTP_413_CONTENT_TOO_LARGE,
                            f"ledger file over {MAX_IMPORT_BYTES} bytes: split it")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"the file is not UTF-8: {err}") from err
    try:
        report = await run_in_threadpool(import_text, session, text, fmt=format, layer=layer)
    except LedgerFormatError as err:
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    return report.as_dict()


@router.get("/ledger/export", responses={200: {"content": {"application/geo+json": {},
                                                           "text/csv": {}}}})
def export_ledger(session: SessionDep, format: Format = "geojson",
                  layer: Layer | None = None, site: Id | None = None) -> Response:
    """GeoJSON (all layers, or ``layer``) or CSV (one layer, default trees), by ``site``."""
    if format == "csv":
        text = export_csv(session, layer=layer or "trees", site=site)
        return Response(text, media_type="text/csv; charset=utf-8")
    import json

    doc = export_geojson(session, site=site, layers=(layer,) if layer else LAYERS)
    return Response(json.dumps(doc, ensure_ascii=False), media_type="application/geo+json")


@router.post("/ledger/trees/{site}/{tree}/retire", response_model=TreePublic)
def retire(session: SessionDep, site: Id, tree: Id, body: RetireBody) -> Tree:
    """Felled, replaced, died or removed: the tree stays in the ledger with its history."""
    when = local_date_ms(session, site, body.date) if body.date else None
    retire_tree(session, site=site, tree=tree, reason=body.reason, by=body.by, note=body.note,
                retired_ms=when, successor=body.successor)
    return session.get_one(Tree, (site, tree))


@router.post("/ledger/trees/{site}/{tree}/replant", response_model=TreePublic,
             status_code=http.HTTP_201_CREATED)
def replant(session: SessionDep, site: Id, tree: Id, body: TreeCreate) -> Tree:
    """Plant the successor of a retired tree; returns the new tree."""
    return replant_tree(session, site=site, tree=tree, successor=body)


@router.delete("/trees/{site}/{tree}", response_model=TreePublic)
def delete_tree(session: SessionDep, site: Id, tree: Id, reason: RetireReason,
                by: Annotated[str, Query(min_length=1, max_length=120)],
                note: str = "") -> Tree:
    """Trees are retired, never deleted: same as ``/ledger/trees/{site}/{tree}/retire``."""
    return retire_tree(session, site=site, tree=tree, reason=reason, by=by, note=note)
