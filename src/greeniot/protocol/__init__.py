"""The v1 device protocol: topics and payloads. Pure, no I/O; the contract with the firmware.

See docs/protocol.md for the prose version; tests keep the two and the firmware in step.
"""

from greeniot.protocol.codec import Decoded, Rejection, decode, encode
from greeniot.protocol.messages import (
    SCHEMA_VERSION,
    Ack,
    Alert,
    Command,
    DeviceConfig,
    FlowReading,
    Reading,
    SiteForecast,
    SoilReading,
    Status,
    Stored,
    TiltBurst,
    TiltReading,
    ValveEvent,
    WeatherReading,
)
from greeniot.protocol.topics import (
    DOWN_CHANNELS,
    ROOT,
    UP_CHANNELS,
    Topic,
    alerts_topic,
    dead_letter_topic,
    device_topic,
    forecast_topic,
    ingest_filters,
    parse_topic,
    valid_id,
)

__all__ = [
    "DOWN_CHANNELS",
    "ROOT",
    "SCHEMA_VERSION",
    "UP_CHANNELS",
    "Ack",
    "Alert",
    "Command",
    "Decoded",
    "DeviceConfig",
    "FlowReading",
    "Reading",
    "Rejection",
    "SiteForecast",
    "SoilReading",
    "Status",
    "Stored",
    "TiltBurst",
    "TiltReading",
    "Topic",
    "ValveEvent",
    "WeatherReading",
    "alerts_topic",
    "dead_letter_topic",
    "decode",
    "device_topic",
    "encode",
    "forecast_topic",
    "ingest_filters",
    "parse_topic",
    "valid_id",
]
