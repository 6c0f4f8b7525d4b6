"""Fixtures for firmware tests: firmware nodes and observers that are always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from greeniot.services.firmware import FirmwareNode
from tests.firmware.support import Observer

#: Fast settings for tests: short intervals and backoff, quiet logs.
FAST: dict[str, Any] = {
    "interval_s": 0.4, "reconnect_min_s": 0.2, "reconnect_max_s": 0.5, "keepalive_s": 10,
    "connect_timeout_s": 1.0, "probe_settle_ms": 0, "tilt_samples": 8, "log_level": "info",
    # No ingest runs in these tests: the PUBACK retires a batch (test_confirmed.py has ingest).
    "stored_confirm": False,
}


@pytest.fixture
def make_node(tmp_path: Path, site_id: str) -> Iterator[Callable[..., FirmwareNode]]:
    nodes: list[FirmwareNode] = []

    def make(device: str, kind: str, port: int, **overrides: Any) -> FirmwareNode:
        node = FirmwareNode(tmp_path / device, site=site_id, device=f"{device}-{site_id}",
                            kind=kind, mqtt_port=port, **{**FAST, **overrides})
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.stop(timeout_s=3)


@pytest.fixture
def make_observer(site_id: str) -> Iterator[Callable[..., Observer]]:
    observers: list[Observer] = []

    def make(port: int, *, persistent: bool = False) -> Observer:
        obs = Observer(port, site_id, persistent=persistent)
        observers.append(obs)
        return obs

    yield make
    for obs in observers:
        obs.close()
