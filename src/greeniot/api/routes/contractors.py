"""Contractor assessment: the score table per contractor and month (JSON or CSV)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from greeniot.api.deps import SessionDep
from greeniot.reports.contractors import SCORE_RULES, score_contractors, to_csv

router = APIRouter(prefix="/contractors", tags=["contractors"])


@router.get("/scores", responses={200: {"content": {"text/csv": {}}}})
def scores(session: SessionDep,
           month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
           contractor: str | None = None,
           format: Literal["json", "csv"] = "json") -> Any:
    rows = score_contractors(session, month=month, contractor=contractor)
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8")
    return [asdict(r) for r in rows]


@router.get("/rules")
def rules() -> list[dict[str, Any]]:
    """How each point of the score is earned."""
    return [{"measure": r.measure, "points": r.points, "rule": r.rule} for r in SCORE_RULES]
