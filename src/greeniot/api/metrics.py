"""``GET /metrics``: Prometheus exposition of the API (requests by route and status, their
duration) and of the registry's workflow state (tasks, alerts, valve commands by state)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from greeniot.metrics import Metrics
from greeniot.registry.models import Alert, Command, Task
from greeniot.registry.models_lifecycle import Delivery


def registry_families(sessions: Callable[[], Session]) -> Callable[[], list[Metric]]:
    """Workflow state from the registry: tasks by state and kind, alerts by severity and
    acknowledgement, valve commands by state, notification deliveries by sink and state."""

    def read() -> list[Metric]:
        tasks = GaugeMetricFamily("greeniot_registry_tasks", "Crew tasks by state and kind",
                                  labels=["state", "kind"])
        alerts = GaugeMetricFamily("greeniot_registry_alerts",
                                   "Alerts by severity and acknowledgement",
                                   labels=["severity", "acknowledged"])
        cmds = GaugeMetricFamily("greeniot_registry_valve_commands",
                                 "Valve commands by state", labels=["state"])
        deliveries = GaugeMetricFamily(
            "greeniot_registry_deliveries", "Alert and SLA notifications by sink kind "
            "(webhook, apprise, mqtt, ...) and delivery state", labels=["sink", "state"])
        with sessions() as s:
            for state, kind, n in s.execute(
                    select(Task.state, Task.kind, func.count()).group_by(Task.state, Task.kind)):
                tasks.add_metric([state, kind], n)
            for sev, ack, n in s.execute(select(Alert.severity, Alert.acknowledged, func.count())
                                         .group_by(Alert.severity, Alert.acknowledged)):
                alerts.add_metric([sev, "true" if ack else "false"], n)
            for state, n in s.execute(select(Command.state, func.count())
                                      .group_by(Command.state)):
                cmds.add_metric([state], n)
            for kind, state, n in s.execute(select(Delivery.kind, Delivery.state, func.count())
                                            .group_by(Delivery.kind, Delivery.state)):
                deliveries.add_metric([kind, state], n)
        return [tasks, alerts, cmds, deliveries]

    return read


def route_of(request: Request) -> str:
    """The route template (``/api/v1/trees/{site}/{tree}``), not the path: one series per
    route, not per tree. The matched route's path is relative to its router, so the prefix is
    the part of the request path before as many segments as the route has."""
    route = getattr(request.scope.get("route"), "path", None)
    if not isinstance(route, str):
        return "unmatched"
    parts = request.url.path.rstrip("/").split("/")
    n = len(route.rstrip("/").split("/")) - 1
    prefix = "/".join(parts[: len(parts) - n]) if n else request.url.path.rstrip("/")
    return prefix + route if route != "/" or not prefix else prefix


def install(app: FastAPI, metrics: Metrics) -> None:
    requests = Counter("greeniot_api_requests", "HTTP requests by method, route and status",
                       ["method", "route", "status"], registry=metrics.registry)
    seconds = Histogram("greeniot_api_request_seconds", "HTTP request duration by route",
                        ["method", "route"], registry=metrics.registry)

    def sessions() -> Session:
        factory: Callable[[], Session] = app.state.session_factory
        return factory()

    metrics.add("registry", registry_families(sessions))
    app.state.metrics = metrics

    @app.middleware("http")
    async def count(request: Request,
                    call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = route_of(request)
        seconds.labels(request.method, route).observe(time.perf_counter() - t0)
        requests.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
