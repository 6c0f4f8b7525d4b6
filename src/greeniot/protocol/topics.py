"""Topic tree of protocol v1: ``greeniot/v1/{site}/{device}/{channel}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from greeniot.protocol.channels import (
    CHANNELS,
    DOWN_CHANNELS,
    READING_CHANNELS,
    SITE_CHANNELS,
    UP_CHANNELS,
)

ROOT = "greeniot/v1"
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

__all__ = ["DOWN_CHANNELS", "READING_CHANNELS", "ROOT", "UP_CHANNELS", "Topic", "TopicError",
           "alerts_topic", "dead_letter_topic", "device_topic", "forecast_topic", "ingest_filters",
           "parse_topic", "site_topic", "valid_id"]

DEAD_PREFIX = f"{ROOT}/_dead"


def valid_id(value: str) -> bool:
    """True when ``value`` is a valid site or device id (``[a-z0-9][a-z0-9_-]{0,63}``)."""
    return ID_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    device: str
    channel: str

    def __str__(self) -> str:
        return f"{ROOT}/{self.site}/{self.device}/{self.channel}"


class TopicError(ValueError):
    """A topic outside the v1 tree; the message names the offending part."""


def device_topic(site: str, device: str, channel: str) -> str:
    """Build a device topic, checking ids and channel."""
    for name, value in (("site", site), ("device", device)):
        if not valid_id(value):
            raise TopicError(f"invalid {name} id {value!r}: must match {ID_RE.pattern}")
    if channel not in UP_CHANNELS and channel not in DOWN_CHANNELS:
        raise TopicError(f"unknown channel {channel!r}")
    return f"{ROOT}/{site}/{device}/{channel}"


def parse_topic(topic: str) -> Topic:
    """Parse ``greeniot/v1/{site}/{device}/{channel}``; raise TopicError naming what is wrong."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != ROOT:
        if len(parts) >= 2 and parts[0] == "greeniot" and parts[1] != "v1":
            raise TopicError(f"unsupported protocol version in topic {topic!r}")
        raise TopicError(f"topic {topic!r} is not {ROOT}/{{site}}/{{device}}/{{channel}}")
    _, _, site, device, channel = parts
    if not valid_id(site):
        raise TopicError(f"invalid site id {site!r} in topic")
    if not valid_id(device):
        raise TopicError(f"invalid device id {device!r} in topic")
    if channel not in UP_CHANNELS and channel not in DOWN_CHANNELS:
        raise TopicError(f"unknown channel {channel!r} in topic")
    fixed = CHANNELS[channel].site_device
    if fixed is not None and device != fixed:
        raise TopicError(f"{channel!r} is a per-site channel: its topic is "
                         f"{ROOT}/{{site}}/{fixed}/{channel}, not device {device!r}")
    return Topic(site, device, channel)


def alerts_topic(site: str) -> str:
    """Where the backend publishes alerts for a site (4 levels: never matches device filters)."""
    if not valid_id(site):
        raise TopicError(f"invalid site id {site!r}")
    return f"{ROOT}/{site}/alerts"


def site_topic(site: str, channel: str) -> str:
    """The one topic of a per-site channel (``Channel.site_device``), e.g. the forecast."""
    if channel not in SITE_CHANNELS:
        raise TopicError(f"channel {channel!r} is not a per-site channel ({list(SITE_CHANNELS)})")
    device = CHANNELS[channel].site_device
    assert device is not None
    return device_topic(site, device, channel)


def forecast_topic(site: str) -> str:
    """``greeniot/v1/{site}/forecast/forecast``: the site's forecast (retained)."""
    return site_topic(site, "forecast")


def dead_letter_topic(reason: str) -> str:
    """Dead letters: ``greeniot/v1/_dead/{reason}``; the payload carries the original topic."""
    return f"{DEAD_PREFIX}/{reason}"


def ingest_filters(channels: tuple[str, ...] = UP_CHANNELS, share: str | None = None) -> list[str]:
    """One subscription filter per up channel, optionally as a shared subscription group."""
    prefix = f"$share/{share}/" if share else ""
    return [f"{prefix}{ROOT}/+/+/{ch}" for ch in channels]
