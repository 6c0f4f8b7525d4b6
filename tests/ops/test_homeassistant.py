"""Home Assistant MQTT discovery against its documented format
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): topics, config keys, and
value templates rendered by Jinja2 (as Home Assistant renders them, with ``value_json``)
against real greeniot payloads; published retained through the real broker by the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jinja2
import pytest

from greeniot.config import Settings
from greeniot.homeassistant import discovery_messages
from greeniot.protocol import SoilReading, Status, TiltReading, encode
from greeniot.protocol.codec import encode_batch
from greeniot.protocol.messages import ValveEvent
from greeniot.protocol.topics import parse_topic
from greeniot.registry.context import seed
from greeniot.runtime.processes import open_registry, read_context
from greeniot.simulators.fleet import Fleet
from tests.helpers import Observer, Publisher, poll

TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")
NOW = int(time.time() * 1000)


def render(template: str, payload: bytes) -> str:
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload))


@pytest.fixture
def estate(tmp_path: Path):
    fleet = Fleet.generate(sites=1, trees_per_site=3, zones_per_site=2, seed=2,
                           site_ids=["estate-a"])
    engine, sessions = open_registry(Settings(data_dir=tmp_path))
    with sessions() as s:
        seed(s, **fleet.registry())
    ctx = read_context(sessions)
    engine.dispose()
    return ctx


def test_configs_follow_the_discovery_format(estate) -> None:
    msgs = discovery_messages(estate)
    assert msgs
    uids = [m.config["unique_id"] for m in msgs]
    assert len(uids) == len(set(uids)) and len({m.topic for m in msgs}) == len(msgs)
    for m in msgs:
        assert TOPIC.match(m.topic), m.topic
        c = json.loads(m.payload)
        assert {"name", "unique_id", "state_topic", "value_template", "device",
                "availability_topic"} <= c.keys()
        assert c["device"]["identifiers"] and c["device"]["name"]
        state, avail = parse_topic(c["state_topic"]), parse_topic(c["availability_topic"])
        assert state.channel in ("tilt", "soil", "valve") and avail.channel == "status"
        if m.topic.startswith("homeassistant/binary_sensor/"):
            assert (c["payload_on"], c["payload_off"]) == ("open", "closed")
    trees = {b.tree for b in estate.devices if b.kind == "tilt" and b.tree}
    tree_devices = {m.config["device"]["name"] for m in msgs if "pitch" in m.topic}
    assert len(tree_devices) == len(trees)
    valves = [m for m in msgs if "binary_sensor" in m.topic]
    assert len(valves) == sum(b.kind == "valve" for b in estate.devices)


def test_templates_read_real_payloads(estate) -> None:
    by_what = {m.topic.rsplit("/", 2)[1].rsplit("_", 1)[-1]: m.config
               for m in discovery_messages(estate)}
    tilt = encode(TiltReading(seq=1, ts_ms=NOW, pitch_deg=0.42, roll_deg=-1.5, bat_v=3.71))
    assert render(by_what["pitch"]["value_template"], tilt) == "0.42"
    assert render(by_what["roll"]["value_template"], tilt) == "-1.5"
    assert render(by_what["battery"]["value_template"], tilt) == "3.71"
    batch = encode_batch([SoilReading(seq=1, ts_ms=NOW - 60_000, vwc_pct=30.0),
                          SoilReading(seq=2, ts_ms=NOW, vwc_pct=28.5, temp_c=14.0)])
    assert render(by_what["moisture"]["value_template"], batch) == "28.5"  # newest item
    assert render(by_what["temp"]["value_template"], batch) == "14.0"
    valve = by_what["valve"]
    payload = encode(ValveEvent(seq=3, ts_ms=NOW, state="open", cause="cmd"))
    assert render(valve["value_template"], payload) == valve["payload_on"]
    for state, want in (("online", "online"), ("sleeping", "online"), ("offline", "offline")):
        assert render(valve["availability_template"], encode(Status(state=state))) == want


def test_cli_publishes_retained_configs_and_removes_them(settings: Settings, estate,
                                                         tmp_path: Path) -> None:
    engine, sessions = open_registry(settings)
    fleet = Fleet.generate(sites=1, trees_per_site=3, zones_per_site=2, seed=2,
                           site_ids=["estate-a"])
    with sessions() as s:
        seed(s, **fleet.registry())
    engine.dispose()
    want = {m.topic: m.payload for m in discovery_messages(estate)}
    args = [str(Path(sys.executable).parent / "greeniot"), "homeassistant", "--mqtt-port",
            str(settings.mqtt.port), "--data-dir", str(settings.data_dir)]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    obs = Observer(settings.mqtt.port, ["homeassistant/#"])  # subscribes after: retained
    try:
        poll(lambda: len(obs.on("/config")) >= len(want), timeout_s=20,
             what="retained discovery configs")
        got = {m.topic: m.payload for m in obs.on("/config")}
        assert got == want
    finally:
        obs.close()
    subprocess.run([*args, "--remove"], check=True, capture_output=True, timeout=120)
    obs = Observer(settings.mqtt.port, ["homeassistant/#"])
    try:
        # Retained messages come right after the SUBACK, before anything published later:
        # once a marker published now arrives, every retained config would have too.
        pub = Publisher(settings.mqtt.port)
        pub.publish_many([("homeassistant/_marker", b"x")])
        pub.close()
        poll(lambda: obs.on("/_marker"), timeout_s=20, what="the marker")
        assert obs.on("/config") == []
    finally:
        obs.close()
