"""Write greeniot's Grafana dashboards (``deploy/grafana/dashboards/*.json``).

Why a generator: every panel shares the same datasource, target shape and site filter, and a
typo in one hand-edited JSON file would only show as an empty panel in front of an operator.
Here each panel is one line of intent; ``tests/deploy/test_dashboards.py`` checks that the
committed JSON equals this script's output and runs every query against a real InfluxDB filled
by the simulator through the real ingest service.

Queries are raw InfluxQL over the storage mapping of docs/protocol.md (measurements ``soil``,
``tilt``, ``sway``, ``weather``, ``valve``, ``ack``, ``status``, and what analytics writes:
``events``, ``tasks``, ``alerts``, ``tree_risk`` from greeniot.store.eventlines; tags
``site``, ``device``, ``tree``, ``zone``; field names as in the channel table). They use Grafana's
InfluxQL macros ``$timeFilter`` and ``$__interval`` and the dashboard variables ``$site``,
``$tree`` and ``$zone`` as anchored regexes (``=~ /^$site$/``), which is how Grafana expands a
multi-value or "All" selection for InfluxDB.

The map of trees reads their coordinates from the ``tree_risk`` points (fields ``lat``/``lon``,
copied from the tree ledger when analytics writes the risk), not from a registry datasource:
one datasource serves every panel, and the default registry (SQLite in the services' volume)
is not reachable from Grafana; PostgreSQL, which Grafana could read, is optional.
Storm periods and alerts are annotations from the ``events`` and ``alerts`` points.

Usage: ``python deploy/grafana/generate.py`` (writes), ``--check`` (exit 1 if files differ).
Standard library only, so it runs without the project installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from greeniot.protocol.channels import CHANNELS

#: The provisioned datasource (provisioning/datasources/influxdb.yaml).
DATASOURCE: dict[str, str] = {"type": "influxdb", "uid": "greeniot-influx"}
SCHEMA_VERSION = 39
OUT_DIR = Path(__file__).resolve().parent / "dashboards"
GRID_W = 24

Json = dict[str, Any]

SITE = '"site" =~ /^$site$/'
TREE = '"tree" =~ /^$tree$/'
ZONE = '"zone" =~ /^$zone$/'
EVERY = "GROUP BY time($__interval)"


# -- building blocks ---------------------------------------------------------------------------
def measurements(*, with_field: str, readings: bool = False) -> str:
    """The channel table's measurements that carry ``with_field`` (with ``readings``: only
    channels whose readings analytics takes it from), as an InfluxQL FROM list."""
    return ", ".join(f'"{c.measurement}"' for c in CHANNELS.values()
                     if c.measurement and with_field in c.fields
                     and (not readings or with_field in c.columns))


def where(*filters: str) -> str:
    """``WHERE <filters> AND $timeFilter``: every query is bounded by the dashboard's range."""
    return "WHERE " + " AND ".join((*filters, "$timeFilter"))


def target(query: str, *, ref: str = "A", alias: str | None = None,
           table: bool = False) -> Json:
    out: Json = {"refId": ref, "datasource": dict(DATASOURCE), "rawQuery": True,
                 "query": query, "resultFormat": "table" if table else "time_series"}
    if alias:
        out["alias"] = alias
    return out


def panel(kind: str, title: str, targets: list[Json], *, unit: str | None = None,
          description: str = "", w: int = 12, h: int = 8, custom: Json | None = None,
          options: Json | None = None, mappings: list[Json] | None = None,
          overrides: list[Json] | None = None, decimals: int | None = None,
          thresholds: list[Json] | None = None) -> Json:
    """A panel without id and position; :func:`dashboard` numbers and places them."""
    defaults: Json = {}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    if custom:
        defaults["custom"] = custom
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["color"] = {"mode": "thresholds"}
    return {"type": kind, "title": title, "description": description,
            "datasource": dict(DATASOURCE), "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": options or {}, "gridPos": {"w": w, "h": h}}


def query_var(name: str, label: str, query: str, *, multi: bool) -> Json:
    return {"name": name, "label": label, "type": "query", "datasource": dict(DATASOURCE),
            "query": query, "definition": query, "refresh": 2, "sort": 1, "regex": "",
            "multi": multi, "includeAll": multi, "hide": 0, "current": {}, "options": []}


def right_axis(field_name: str, unit: str) -> Json:
    """Override putting one series on a right-hand axis with its own unit."""
    return {"matcher": {"id": "byName", "options": field_name},
            "properties": [{"id": "custom.axisPlacement", "value": "right"},
                           {"id": "unit", "value": unit}]}


def layout(panels: list[Json]) -> list[Json]:
    """Give each panel a unique id and a gridPos, filling rows of 24 columns left to right."""
    x = y = row_h = 0
    out = []
    for pid, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > GRID_W:
            x, y, row_h = 0, y + row_h, 0
        out.append({"id": pid, **p, "gridPos": {"h": h, "w": w, "x": x, "y": y}})
        x += w
        row_h = max(row_h, h)
    return out


def annotation(name: str, query: str, color: str) -> Json:
    """Grafana's InfluxDB annotation query: ``text`` is the column shown on hover."""
    return {"name": name, "datasource": dict(DATASOURCE), "enable": True, "iconColor": color,
            "query": query, "textColumn": "text", "tagsColumn": "kind"}


#: Storm periods (start, escalate and clear of the site-wide storm event) and alerts, from the
#: points analytics writes (greeniot.store.eventlines).
STORMS = annotation("Storms", 'SELECT "text", "kind" FROM "events" WHERE "kind" = \'storm\' '
                    'AND "site" =~ /^$site$/ AND $timeFilter', "orange")
ALERTS = annotation("Alerts", 'SELECT "text", "kind" FROM "alerts" WHERE "site" =~ /^$site$/ '
                    "AND $timeFilter", "red")
#: risk level 0-3 (none, watch, warning, critical): the tilt stage's latched lean levels
RISK_STEPS = [{"color": "green", "value": None}, {"color": "yellow", "value": 1},
              {"color": "orange", "value": 2}, {"color": "red", "value": 3}]


def dashboard(uid: str, title: str, description: str, variables: list[Json],
              panels: list[Json], *, time_from: str = "now-7d",
              annotations: list[Json] | None = None) -> Json:
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["greeniot"], "timezone": "browser", "editable": False,
        "schemaVersion": SCHEMA_VERSION, "version": 1, "graphTooltip": 1,
        "refresh": "1m", "time": {"from": time_from, "to": "now"},
        "annotations": {"list": annotations or []},
        "links": [{"type": "dashboards", "tags": ["greeniot"], "asDropdown": False,
                   "includeVars": True, "keepTime": True, "title": "greeniot"}],
        "templating": {"list": variables},
        "panels": layout(panels),
    }


VALVE_STATES = [{"type": "value", "options": {
    "0": {"text": "closed", "color": "transparent", "index": 0},
    "1": {"text": "open", "color": "blue", "index": 1}}}]
ONLINE_STATES = [{"type": "value", "options": {
    "0": {"text": "offline", "color": "red", "index": 0},
    "1": {"text": "online", "color": "green", "index": 1}}}]
BARS = {"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1}


# -- dashboards --------------------------------------------------------------------------------
def estate_overview() -> Json:
    site_var = query_var("site", "Site", 'SHOW TAG VALUES FROM "tilt" WITH KEY = "site"',
                         multi=True)
    panels = [
        panel("timeseries", "Soil moisture per zone", [target(
            f'SELECT mean("vwc_pct") FROM "soil" {where(SITE)} {EVERY}, "zone" fill(null)',
            alias="$tag_zone")], unit="percent",
            description="Mean volumetric water content of each zone's probes [%]."),
        panel("timeseries", "Tree lean (tilt magnitude)", [target(
            'SELECT sqrt(pow(mean("pitch_deg"), 2) + pow(mean("roll_deg"), 2)) '
            f'FROM "tilt" {where(SITE)} {EVERY}, "tree" fill(null)', alias="$tag_tree")],
            unit="degree", decimals=2,
            description="sqrt(pitch² + roll²) of each tree's tilt sensor [°]. A lean that "
                        "stays after the wind drops is the signal; sway in wind is not."),
        panel("timeseries", "Pitch and roll per tree", [
            target(f'SELECT mean("pitch_deg") FROM "tilt" {where(SITE)} {EVERY}, "tree" '
                   "fill(null)", alias="$tag_tree pitch"),
            target(f'SELECT mean("roll_deg") FROM "tilt" {where(SITE)} {EVERY}, "tree" '
                   "fill(null)", ref="B", alias="$tag_tree roll")],
            unit="degree", decimals=2, description="Static tilt of each tree [°]."),
        panel("table", "Trees: latest tilt", [target(
            'SELECT last("pitch_deg") AS "pitch_deg", last("roll_deg") AS "roll_deg", '
            f'last("temp_c") AS "temp_c" FROM "tilt" {where(SITE)} GROUP BY "site", "tree"',
            table=True)], decimals=2,
            description="Last reported pitch, roll [°] and sensor temperature [°C] per tree."),
        panel("timeseries", "Wind and gust", [target(
            'SELECT mean("wind_ms") AS "wind", max("gust_ms") AS "gust" FROM "weather" '
            f'{where(SITE)} {EVERY}, "site" fill(null)', alias="$tag_site $col")],
            unit="velocityms", description="Mean wind and peak gust per site [m/s]."),
        panel("timeseries", "Rain", [target(
            f'SELECT sum("rain_mm") FROM "weather" {where(SITE)} {EVERY}, "site" fill(0)',
            alias="$tag_site")], unit="lengthmm", custom=BARS,
            description="Rain per interval [mm] (each reading is rain since the previous)."),
        panel("state-timeline", "Valves (open / closed)", [target(
            f'SELECT last("open") FROM "valve" {where(SITE)} {EVERY}, "zone" fill(previous)',
            alias="$tag_zone")], mappings=VALVE_STATES,
            description="Valve state per zone from the nodes' own valve events."),
        panel("bargauge", "Device battery", [target(
            f'SELECT last("bat_v") FROM {measurements(with_field="bat_v", readings=True)} '
            f'{where(SITE)} GROUP BY "device"', alias="$tag_device")],
            unit="volt", decimals=2, options={"orientation": "horizontal",
                                              "displayMode": "gradient"},
            description="Last battery voltage reported with each reading [V]."),
        panel("stat", "Devices online", [target(
            'SELECT sum("online") FROM (SELECT last("online") AS "online" FROM "status" '
            f'{where(SITE)} GROUP BY "site", "device")')], w=6,
            description="Devices whose last retained status is online (the broker's last "
                        "will marks a lost device offline)."),
        panel("table", "Device status", [target(
            'SELECT last("online") AS "online", last("bat_v") AS "bat_v", '
            'last("rssi_dbm") AS "rssi_dbm", last("outbox") AS "outbox" FROM "status" '
            f'{where(SITE)} GROUP BY "site", "device"', table=True)], w=18,
            mappings=ONLINE_STATES,
            description="Last status per device: online, battery [V], signal [dBm], "
                        "readings waiting in its outbox."),
        panel("geomap", "Trees by risk", [target(
            'SELECT last("lat") AS "latitude", last("lon") AS "longitude", '
            'last("risk_level") AS "risk" FROM "tree_risk" '
            f'{where(SITE)} GROUP BY "site", "tree"', table=True)], w=12, h=10,
            options={
                "view": {"id": "fit", "allLayers": True},
                "layers": [{"type": "markers", "name": "trees",
                            "location": {"mode": "coords", "latitude": "latitude",
                                         "longitude": "longitude"},
                            "config": {"size": {"fixed": 6},
                                       "color": {"field": "risk", "fixed": "green"}}}]},
            thresholds=RISK_STEPS,
            description="Each tree at its ledger coordinates, coloured by its newest risk "
                        "level: green none, yellow watch, orange warning, red critical."),
        panel("table", "Tasks opened", [target(
            'SELECT "id", "priority", "title", "subject" FROM "tasks" '
            f'{where(SITE)} GROUP BY "site", "kind" ORDER BY time DESC LIMIT 100',
            table=True)], w=12, h=10,
            description="Crew tasks analytics opened (event time); their workflow state "
                        "lives in the registry (API /api/v1/tasks)."),
        panel("timeseries", "Messages stored", [target(
            f'SELECT count("seq") FROM {measurements(with_field="seq")} '
            f'{where(SITE)} {EVERY} fill(0)', alias="$measurement")],
            w=24, custom=BARS, description="Readings stored per interval, by channel."),
    ]
    return dashboard("greeniot-estate", "greeniot — Estate overview",
                     "Soil, trees, weather, valves and devices of one or more sites.",
                     [site_var], panels, annotations=[STORMS, ALERTS])


def tree_drilldown() -> Json:
    site_var = query_var("site", "Site", 'SHOW TAG VALUES FROM "tilt" WITH KEY = "site"',
                         multi=False)
    tree_var = query_var("tree", "Tree", 'SHOW TAG VALUES FROM "tilt" WITH KEY = "tree" '
                         'WHERE "site" =~ /^$site$/', multi=False)
    band = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}, "custom.fillOpacity": 0}
    panels = [
        panel("timeseries", "Lean against the tree's baseline", [target(
            'SELECT mean("lean_deg") AS "lean", last("lean_watch_deg") AS "watch", '
            'last("lean_warning_deg") AS "warning", last("lean_critical_deg") AS "critical" '
            f'FROM "tree_risk" {where(SITE, TREE)} {EVERY} fill(none)', alias="$col")],
            unit="degree", decimals=2, w=24, h=9, overrides=[
                {"matcher": {"id": "byName", "options": name},
                 "properties": [{"id": "color", "value": {"mode": "fixed",
                                                          "fixedColor": color}},
                                *({"id": k, "value": v} for k, v in band.items())]}
                for name, color in (("watch", "yellow"), ("warning", "orange"),
                                    ("critical", "red"))],
            description="Calm residual lean: tilt minus the tree's own baseline [°], against "
                        "its watch, warning and critical levels (heritage trees have "
                        "stricter ones; analytics/params.py)."),
        panel("timeseries", "Tilt: pitch, roll and sensor temperature", [
            target('SELECT mean("pitch_deg") AS "pitch_deg", mean("roll_deg") AS "roll_deg" '
                   f'FROM "tilt" {where(SITE, TREE)} {EVERY} fill(null)', alias="$col"),
            target(f'SELECT mean("temp_c") AS "temp_c" FROM "tilt" {where(SITE, TREE)} '
                   f"{EVERY} fill(null)", ref="B", alias="$col")],
            unit="degree", decimals=3, w=24, h=9, overrides=[right_axis("temp_c", "celsius")],
            description="Static tilt [°] beside the sensor's temperature [°C]: MEMS tilt "
                        "drifts with temperature, so read the two together."),
        panel("timeseries", "Sway samples", [target(
            'SELECT mean("pitch_deg") AS "pitch_deg", mean("roll_deg") AS "roll_deg" '
            f'FROM "sway" {where(SITE, TREE)} {EVERY} fill(none)', alias="$col")],
            unit="degree", decimals=3, custom={"drawStyle": "line", "showPoints": "never"},
            description="Burst samples sent in strong wind (10–20 Hz); zoom into a burst to "
                        "see the individual samples."),
        panel("timeseries", "Sway amplitude", [target(
            'SELECT spread("pitch_deg") AS "pitch_deg", spread("roll_deg") AS "roll_deg" '
            f'FROM "sway" {where(SITE, TREE)} {EVERY} fill(none)', alias="$col")],
            unit="degree", decimals=3, custom=BARS,
            description="Peak-to-peak sway per interval [°]."),
        panel("timeseries", "Wind at the site", [target(
            'SELECT mean("wind_ms") AS "wind", max("gust_ms") AS "gust" FROM "weather" '
            f'{where(SITE)} {EVERY} fill(null)', alias="$col")], unit="velocityms",
            description="Tilt rising per unit wind can mean lost anchorage [m/s]."),
        panel("stat", "Sensor battery", [target(
            f'SELECT last("bat_v") FROM "tilt" {where(SITE, TREE)}')], unit="volt",
            decimals=2, w=6, description="Last battery voltage of the tree's tilt sensor [V]."),
        panel("stat", "Readings stored", [target(
            f'SELECT count("seq") FROM "tilt" {where(SITE, TREE)}')], w=6,
            description="Tilt readings stored in the selected range."),
    ]
    return dashboard("greeniot-tree", "greeniot — Tree", "One tree: tilt, sway and wind.",
                     [site_var, tree_var], panels, annotations=[STORMS, ALERTS])


def irrigation() -> Json:
    site_var = query_var("site", "Site", 'SHOW TAG VALUES FROM "soil" WITH KEY = "site"',
                         multi=False)
    zone_var = query_var("zone", "Zone", 'SHOW TAG VALUES FROM "soil" WITH KEY = "zone" '
                         'WHERE "site" =~ /^$site$/', multi=True)
    panels = [
        panel("timeseries", "Zone soil moisture", [target(
            f'SELECT mean("vwc_pct") FROM "soil" {where(SITE, ZONE)} {EVERY}, "zone" '
            "fill(null)", alias="$tag_zone")], unit="percent", w=24, h=9,
            description="Mean volumetric water content per zone [%]; irrigation starts when "
                        "the modelled depletion passes the allowed depletion."),
        panel("timeseries", "Soil moisture per probe", [target(
            f'SELECT mean("vwc_pct") FROM "soil" {where(SITE, ZONE)} {EVERY}, "device" '
            "fill(null)", alias="$tag_device")], unit="percent",
            description="Each probe of the selected zones [%]: a probe far from its "
                        "neighbours may be faulty."),
        panel("timeseries", "Rain", [target(
            f'SELECT sum("rain_mm") FROM "weather" {where(SITE)} {EVERY} fill(0)',
            alias="rain")], unit="lengthmm", custom=BARS,
            description="Rain per interval at the site [mm]; recent rain skips irrigation."),
        panel("state-timeline", "Valve state", [target(
            f'SELECT last("open") FROM "valve" {where(SITE, ZONE)} {EVERY}, "zone" '
            "fill(previous)", alias="$tag_zone")], mappings=VALVE_STATES, w=24, h=6,
            description="Open or closed per zone, from the valve nodes' own events."),
        panel("table", "Valve events", [target(
            'SELECT "open", "cause", "cmd_id", "open_s", "flow_l" FROM "valve" '
            f'{where(SITE, ZONE)} GROUP BY "zone", "device" ORDER BY time DESC LIMIT 200',
            table=True)], mappings=VALVE_STATES,
            description="Every state change: cause (cmd, max_run, boot, manual), the "
                        "command it answers, run time [s] and water delivered [L]."),
        panel("table", "Command acks", [target(
            'SELECT "cmd_id", "ok", "state", "reason" FROM "ack" '
            f'{where(SITE, ZONE)} GROUP BY "zone", "device" ORDER BY time DESC LIMIT 200',
            table=True)],
            description="Valve nodes' answers to commands; ok=false carries the reason."),
        panel("timeseries", "Water delivered", [target(
            f'SELECT sum("flow_l") FROM "valve" {where(SITE, ZONE)} {EVERY}, "zone" fill(0)',
            alias="$tag_zone")], unit="litre", custom=BARS, w=24,
            description="Litres per zone, booked when the valve closes [L]."),
        panel("timeseries", "Root-zone depletion, RAW and ET0 at each decision", [target(
            f'SELECT last("dr_mm") AS "Dr", last("raw_mm") AS "RAW", last("et0_mm") AS "ET0", '
            f'last("gross_mm") AS "depth" FROM "irrigation_decisions" {where(SITE, ZONE)} '
            f'{EVERY}, "zone" fill(none)', alias="$tag_zone $col")], unit="lengthmm", w=24,
            description="The daily FAO-56 decision per zone: sensor-corrected depletion Dr "
                        "against the readily available water RAW, yesterday's ET0 and the "
                        "gross depth decided [mm] (analytics/irrigation, docs/irrigation.md)."),
        panel("table", "Watering decisions", [target(
            'SELECT "text", "water", "dr_mm", "raw_mm", "et0_mm", "gross_mm", "run_s", '
            '"cycles", "lockouts" FROM "irrigation_decisions" '
            f'{where(SITE, ZONE)} GROUP BY "zone", "outcome" ORDER BY time DESC LIMIT 200',
            table=True)], w=24,
            description="Every decision, 'no' included: outcome, Dr, RAW, ET0, depth, run "
                        "time, cycles and the lockout reason codes (rain_observed, "
                        "rain_forecast, frost, high_wind, min_interval, daily_budget, "
                        "valve_open, cmd_pending, no_valve)."),
    ]
    return dashboard("greeniot-irrigation", "greeniot — Irrigation",
                     "Zone soil moisture, valve events and command acknowledgements.",
                     [site_var, zone_var], panels, time_from="now-3d")


#: greeniot's own metrics, scraped by Prometheus (provisioning/datasources/prometheus.yaml).
PROMETHEUS: dict[str, str] = {"type": "prometheus", "uid": "greeniot-prometheus"}


def prom(title: str, exprs: list[tuple[str, str]], *, unit: str | None = None,
         description: str = "", w: int = 12, h: int = 8, kind: str = "timeseries") -> Json:
    """A panel of PromQL expressions ``(expr, legend)`` on the Prometheus datasource."""
    targets = [{"refId": chr(ord("A") + i), "datasource": dict(PROMETHEUS), "expr": expr,
                "legendFormat": legend, "range": True} for i, (expr, legend) in enumerate(exprs)]
    p = panel(kind, title, targets, unit=unit, description=description, w=w, h=h)
    p["datasource"] = dict(PROMETHEUS)
    return p


def operations() -> Json:
    """Ingest health, analytics timing, actions: the metrics of src/greeniot/metrics.py."""
    r5 = "[5m]"
    panels = [
        prom("Messages per second", [
            (f"sum(rate(greeniot_ingest_messages_received_total{r5}))", "received"),
            (f"sum(rate(greeniot_ingest_messages_accepted_total{r5}))", "accepted"),
            (f"sum by (reason) (rate(greeniot_ingest_messages_rejected_total{r5}))",
             "rejected {{reason}}")], unit="reqps",
            description="MQTT messages ingest received, stored and refused (by reason code)."),
        prom("Spool", [("sum(greeniot_ingest_spool_bytes)", "bytes waiting"),
                       ("max(greeniot_ingest_spool_age_seconds)", "age")], unit="bytes",
             description="Readings acknowledged but not yet in InfluxDB, and how long the "
                         "spool has not been empty [s]: grows while InfluxDB is down."),
        prom("InfluxDB writes", [
            (f"sum(rate(greeniot_ingest_write_seconds_sum{r5})) / "
             f"sum(rate(greeniot_ingest_write_seconds_count{r5}))", "mean latency"),
            (f"sum(rate(greeniot_ingest_write_retries_total{r5}))", "retries/s")], unit="s",
            description="Mean duration of a write batch [s] and failed writes retried."),
        prom("Broker lag", [("max by (role) (greeniot_mqtt_broker_lag_seconds)", "{{role}}"),
                            ("min by (role) (greeniot_mqtt_connected)", "{{role}} connected")],
             unit="s", description="Age of the oldest message received but not processed "
                                   "[s]; 0 connected means the broker is unreachable."),
        prom("Analytics liveness", [
            ("min by (shard) (greeniot_analytics_alive)", "alive {{shard}}"),
            ("max by (shard) (greeniot_analytics_heartbeat_age_seconds)",
             "heartbeat age {{shard}}"),
            ("sum by (shard) (increase(greeniot_analytics_loop_restarts_total[1h]))",
             "loop restarts {{shard}}")],
            description="Whether each analytics process's loop runs and beats (1 = alive), "
                        "seconds since its last beat, and supervised restarts per hour."),
        prom("Analytics stage tick (p95)", [
            ("histogram_quantile(0.95, sum by (le, stage) "
             "(rate(greeniot_analytics_stage_seconds_bucket[15m])))", "{{stage}}"),
            ("histogram_quantile(0.95, sum by (le) "
             "(rate(greeniot_analytics_tick_seconds_bucket[15m])))", "whole tick")], unit="s",
            description="95th percentile of each stage's tick and of the whole tick [s]."),
        prom("Events found", [
            ("sum by (kind) (increase(greeniot_analytics_events_total[1h]))", "{{kind}}")],
            description="Analytics events per hour, by kind."),
        prom("Tasks and alerts", [
            ("sum by (kind) (increase(greeniot_tasks_opened_total[1h]))", "task {{kind}}"),
            ("sum by (severity) (increase(greeniot_alerts_raised_total[1h]))",
             "alert {{severity}}")],
            description="Crew tasks opened and alerts raised per hour."),
        prom("Alert deliveries", [
            ("sum by (sink, state) (greeniot_registry_deliveries)", "{{sink}} {{state}}"),
            ("sum by (sink, result) (increase(greeniot_alert_deliveries_total[1h]))",
             "handed to {{sink}} {{result}}")],
            description="Notifications by sink (webhook, apprise, mqtt, ...) and delivery "
                        "state, from the registry; and alerts handed to the dispatcher per "
                        "hour."),
        prom("Valve commands", [
            ("sum by (state) (increase(greeniot_valve_commands_total[1h]))", "{{state}}"),
            ("sum by (state) (greeniot_registry_valve_commands)", "registry {{state}}")],
            description="Command transitions per hour (sent, acked, refused, expired, "
                        "failed) and commands in the registry by state."),
        prom("Open work", [("sum by (state) (greeniot_registry_tasks)", "tasks {{state}}"),
                           ("sum by (severity) (greeniot_registry_alerts"
                            '{acknowledged="false"})', "unacknowledged {{severity}}")],
             description="Tasks by workflow state and unacknowledged alerts, from the "
                         "registry."),
        prom("API requests", [
            (f"sum by (route, status) (rate(greeniot_api_requests_total{r5}))",
             "{{route}} {{status}}")], unit="reqps", w=24,
            description="HTTP requests per second by route template and status."),
    ]
    return dashboard("greeniot-operations", "greeniot — Operations",
                     "Ingest, analytics and actions from greeniot's Prometheus metrics.",
                     [], panels, time_from="now-6h")


def dashboards() -> dict[str, Json]:
    """File name → dashboard JSON."""
    return {"estate-overview.json": estate_overview(), "tree.json": tree_drilldown(),
            "irrigation.json": irrigation(), "operations.json": operations()}


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare with the committed files; exit 1 if they differ")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, board in dashboards().items():
        path = args.out / name
        text = render(board)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
