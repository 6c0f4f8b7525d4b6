"""The winter-solstice sunlight check of a window against the ledger's trees."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from greeniot.api.deps import SessionDep
from greeniot.registry.schemas import Id
from greeniot.sunlight.check import DEFAULT_THRESHOLD_H, Window, check_window

router = APIRouter(prefix="/sunlight", tags=["sunlight"])


class SunlightRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Id
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    height_m: Annotated[float, Field(ge=0, le=300, description="window above ground [m]")]
    facing_deg: Annotated[float, Field(ge=0, lt=360,
                                       description="outward normal, clockwise from north")]
    name: Annotated[str, Field(min_length=1, max_length=120)] = "window"
    year: Annotated[int, Field(ge=1900, le=2200)] | None = None
    threshold_h: Annotated[float, Field(gt=0, le=24)] = DEFAULT_THRESHOLD_H
    radius_m: Annotated[float, Field(gt=0, le=500)] = 50.0
    #: Count only sun between these hours of local mean solar time (e.g. [9, 15]);
    #: default the whole day.
    solar_hours: tuple[float, float] | None = None
    #: Open a pruning task for each tree named when the window falls short.
    open_tasks: bool = False


@router.post("/check")
def check(session: SessionDep, body: SunlightRequest) -> dict[str, Any]:
    window = Window(site=body.site, lat=body.lat, lon=body.lon, height_m=body.height_m,
                    facing_deg=body.facing_deg, name=body.name)
    result = check_window(session, window, year=body.year, threshold_h=body.threshold_h,
                          radius_m=body.radius_m, solar_hours=body.solar_hours,
                          open_tasks=body.open_tasks)
    return result.as_dict()
