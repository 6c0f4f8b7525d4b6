"""Site forecasts: post one, and the API publishes it on the site's ``forecast`` channel
(retained, QoS 1) as it publishes valve commands; ingest stores it, the maintenance process
feeds it to the watering lockouts and the pre-storm sweep. Operator+ (people and service
accounts, e.g. a weather-service adapter running elsewhere), on the caller's sites."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import status as http
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from greeniot.api.deps import SessionDep, SettingsDep, get_publisher, released
from greeniot.api.security import OperatorDep, require_site
from greeniot.clock import wall_ms
from greeniot.forecasts.publish import publish_forecast
from greeniot.protocol.messages import SiteForecast, TsMs
from greeniot.registry import audit, crud
from greeniot.registry.schemas import Id

log = logging.getLogger(__name__)
router = APIRouter(tags=["forecasts"])


class ForecastPost(SiteForecast):
    """A site forecast (the ``forecast`` channel's payload); ``ts_ms``, when it was issued,
    defaults to now and may be at most the ingest's allowed skew ahead."""

    ts_ms: TsMs | None = None  # type: ignore[assignment]
    source: Annotated[str, Field(max_length=64)] | None = "api"


class ForecastPublished(BaseModel):
    site: str
    topic: str
    forecast: dict[str, Any]


def _audit(session: Session, site: str, payload: dict[str, Any]) -> None:
    audit.record(session, op="forecast", entity="forecasts", key=site, after=payload)
    session.commit()


@router.post("/sites/{site}/forecast", response_model=ForecastPublished,
             status_code=http.HTTP_202_ACCEPTED,
             responses={404: {"description": "unknown site"},
                        422: {"description": "invalid forecast"},
                        502: {"description": "the broker did not take it"},
                        503: {"description": "no broker connection configured"}})
async def post_forecast(site: Id, body: ForecastPost, session: SessionDep,
                        settings: SettingsDep, who: OperatorDep,
                        request: Request) -> ForecastPublished:
    """Accepted = published (the broker acknowledged it). Audited as ``forecast``."""
    require_site(who, site)
    await released(session, crud.get_site, session, site=site)  # 404 for an unknown site
    now = wall_ms()
    ts = body.ts_ms if body.ts_ms is not None else now
    ahead_ms = settings.ingest.max_future_s * 1000
    if ts > now + ahead_ms:
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"ts_ms {ts} is {(ts - now) / 1000:.0f} s in the future (at most "
                            f"{settings.ingest.max_future_s:g} s: ingest would refuse it)")
    if ts < now - settings.ingest.max_age_days * 86_400_000:
        raise HTTPException(http.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"ts_ms {ts} is older than {settings.ingest.max_age_days:g} days")
    fc = SiteForecast.model_validate({**body.model_dump(exclude_none=True), "ts_ms": ts})
    publish = get_publisher(request)  # 503 without a broker, once the request is sound
    try:
        topic = await publish_forecast(publish, site, fc)
    except Exception as err:
        log.warning("forecast for %s not published: %r", site, err)
        raise HTTPException(http.HTTP_502_BAD_GATEWAY, f"forecast not published: {err}") from err
    payload = fc.model_dump(mode="json", exclude_none=True)
    await run_in_threadpool(_audit, session, site, payload)
    return ForecastPublished(site=site, topic=topic, forecast=payload)
