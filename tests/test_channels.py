"""The channel table is the one place that says what a channel is; everything reads it."""

from __future__ import annotations

import json

import pytest

from greeniot.analytics.core.columns import FIELDS, Pending
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.estate import EstateContext
from greeniot.protocol import decode, ingest_filters
from greeniot.protocol.channels import (
    CHANNELS,
    DOWN_CHANNELS,
    SCHEMA,
    UP_CHANNELS,
    RoutingError,
    channel,
    check_routing,
)
from greeniot.protocol.topics import TopicError, device_topic, parse_topic
from greeniot.runtime.warmstart import HISTORY_DAYS
from greeniot.store import lineproto


def test_every_channel_has_a_model_and_a_direction() -> None:
    assert set(UP_CHANNELS) | set(DOWN_CHANNELS) == set(CHANNELS)
    assert not set(UP_CHANNELS) & set(DOWN_CHANNELS)
    for c in CHANNELS.values():
        assert c.model.model_fields, c.name
        for f in c.columns:
            assert f in c.model.model_fields, (c.name, f)  # analytics columns are payload fields
        assert set(c.required) <= set(c.columns) and set(c.watch) <= set(c.columns)


def test_topics_ingest_filters_and_line_protocol_read_the_table() -> None:
    assert ingest_filters() == [f"greeniot/v1/+/+/{c}" for c in UP_CHANNELS]
    for name, row in CHANNELS.items():
        assert parse_topic(device_topic("s", row.site_device or "d", name)).channel == name
    with pytest.raises(TopicError, match="unknown channel"):
        parse_topic("greeniot/v1/s/d/sapflow")
    assert lineproto.SCHEMA is SCHEMA
    assert {c.measurement for c in CHANNELS.values() if c.measurement} | {"sway"} == set(SCHEMA)
    # warm start takes its history spans from the rows
    assert {c.name: c.history_days for c in CHANNELS.values() if c.history_days} == HISTORY_DAYS


def test_down_channels_are_refused_from_devices_by_the_codec() -> None:
    for name in DOWN_CHANNELS:
        d = decode(f"greeniot/v1/s/d/{name}", b"{}")
        assert [r.reason for r in d.rejections] == ["bad_channel"]


def test_a_channel_routed_to_a_missing_stage_is_an_error_at_start_up() -> None:
    stages = {s: [c.name for c in CHANNELS.values() if s in c.stages]
              for c in CHANNELS.values() for s in c.stages}
    check_routing(stages)  # the engine's own set passes
    missing = {k: v for k, v in stages.items() if k != "soil"}
    with pytest.raises(RoutingError, match="channel 'soil' is routed to stage 'soil'"):
        check_routing(missing)
    with pytest.raises(RoutingError, match="unknown channel 'sapflow'"):
        check_routing({**stages, "sapflow": ["sapflow"]})
    with pytest.raises(RoutingError, match="whose row does not route to it"):
        check_routing({**stages, "storm": ["weather", "soil"]})
    with pytest.raises(KeyError, match="unknown channel 'sapflow'; known"):
        channel("sapflow")


def test_the_engine_checks_its_stages_against_the_table(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    AnalyticsEngine(EstateContext())
    from greeniot.analytics import engine as engine_mod

    monkeypatch.setattr(engine_mod.SoilStage, "kinds", ("soil", "sapflow"))
    with pytest.raises(RoutingError, match="unknown channel 'sapflow'"):
        AnalyticsEngine(EstateContext())


def test_pending_drains_every_routed_kind() -> None:
    """Not a hard-coded list: a new routed channel's readings come out of the buffer."""
    p = Pending()
    for kind in FIELDS:
        p.add(kind, "s", f"d-{kind}", 1, {})
    assert sorted(b.kind for b in p.drain()) == sorted(FIELDS)
    assert len(p) == 0


def test_a_per_site_channel_has_one_topic_per_site_and_no_device_publishes_it() -> None:
    from greeniot.protocol.channels import SITE_CHANNELS
    from greeniot.protocol.topics import forecast_topic
    from greeniot.provision.acl import up_channels

    assert SITE_CHANNELS == ("forecast",)
    assert forecast_topic("estate-a") == "greeniot/v1/estate-a/forecast/forecast"
    with pytest.raises(TopicError, match="per-site channel"):
        parse_topic("greeniot/v1/estate-a/wx-1/forecast")
    d = decode("greeniot/v1/estate-a/wx-1/forecast", b'{"v":1,"ts_ms":1795510737944}')
    assert [r.reason for r in d.rejections] == ["bad_topic"]
    for kind in ("soil", "tilt", "valve", "weather", "multi"):
        assert "forecast" not in up_channels(kind)
    assert "flow" in up_channels("valve")


def test_flow_and_forecast_payloads_are_strict_bounded_and_stored_with_fixed_types() -> None:
    flow = b'{"v":1,"seq":3,"ts_ms":1795510737944,"flow_l_min":19.5,"total_l":40,"valve":"open"}'
    d = decode("greeniot/v1/s/v-1/flow", flow)
    assert d.rejections == []
    (line,) = lineproto.to_lines(d.messages[0], ",device=v-1,site=s", 0)
    assert line.startswith("flow,device=v-1,site=s ") and "total_l=40.0," in line
    assert "open=1i" in line and "seq=3i" in line
    good = json.loads(flow)
    for change, why in (({"flow_l_min": -1}, "flow_l_min"), ({"valve": "ajar"}, "valve"),
                        ({"flow_l_min": "19"}, "flow_l_min"), ({"leak": True}, "leak"),
                        ({"total_l": 2e6}, "total_l")):
        body = json.dumps({**good, **change}).encode()
        (r,) = decode("greeniot/v1/s/v-1/flow", body).rejections
        assert r.reason == "invalid" and why in r.detail, (body, r)
    fc = b'{"v":1,"ts_ms":1795510737944,"rain_today_mm":6,"signal":8,"source":"api"}'
    d = decode("greeniot/v1/s/forecast/forecast", fc)
    assert d.rejections == []
    (line,) = lineproto.to_lines(d.messages[0], ",device=forecast,site=s", 0)
    assert "rain_today_mm=6.0" in line and "signal=8i" in line and 'source="api"' in line
    assert line.endswith(" 1795510737944000")
    (r,) = decode("greeniot/v1/s/forecast/forecast",
                  fc.replace(b'"signal":8', b'"signal":11')).rejections
    assert r.reason == "invalid" and "signal" in r.detail
