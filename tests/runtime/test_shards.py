"""Analytics shards: sites split over live shards by rendezvous hashing; a shard that stops
hands its sites over; nothing is judged twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from greeniot.config import Settings
from greeniot.estate import EstateContext
from greeniot.protocol import SoilReading, device_topic, encode
from greeniot.registry.db import engine_from_url, migrate, session_factory
from greeniot.runtime.maintenance import MaintenanceService
from greeniot.runtime.shards import ShardMap, owner
from greeniot.transport.mqtt import MqttSession
from tests.helpers import apoll

T0 = 1_795_510_000_000
MIN = 60_000


def test_rendezvous_ownership_is_stable_and_moves_only_what_it_must() -> None:
    sites = [f"estate-{i}" for i in range(400)]
    two = {s: owner(s, ["a", "b"]) for s in sites}
    assert two == {s: owner(s, ["b", "a"]) for s in sites}  # order-free
    share = Counter(two.values())
    assert 150 <= share["a"] <= 250  # roughly even
    three = {s: owner(s, ["a", "b", "c"]) for s in sites}
    moved = [s for s in sites if three[s] != two[s]]
    assert moved and all(three[s] == "c" for s in moved)  # only sites going to the new member
    m = ShardMap("a")
    assert m.owns("estate-1")  # alone, it owns everything
    assert m.observe("greeniot/v1/_analytics/b", b"online")
    assert not m.observe("greeniot/v1/_analytics/b", b"online")  # no change
    assert m.owned(sites) == sorted(s for s in sites if two[s] == "a")
    assert m.observe("greeniot/v1/_analytics/b", b"offline")
    assert not m.observe("greeniot/v1/_analytics/a", b"offline")  # never removes itself
    assert len(m.owned(sites)) == len(sites)


def test_two_shards_split_the_sites_and_take_over_when_one_stops(
        settings: Settings, site_id: str, tmp_path: Path) -> None:
    sites = [f"{site_id}-s{i}" for i in range(6)]
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    migrate(url)
    db = engine_from_url(url)
    sessions = session_factory(db)

    def shard(name: str) -> MaintenanceService:
        s = settings.model_copy(update={"analytics": settings.analytics.model_copy(
            update={"shard": name, "tick_s": 300.0})})
        return MaintenanceService(s, EstateContext(), sessions)

    async def low_battery(pub: MqttSession, site: str, device: str, start_ms: int) -> None:
        for k in range(6):  # 25 min of readings at 3.30 V, below the 3.4 V warning
            await pub.send(device_topic(site, device, "soil"), encode(SoilReading(
                seq=k, ts_ms=start_ms + k * 5 * MIN, vwc_pct=25.0 + k / 10, bat_v=3.3)))

    def judged(svc: MaintenanceService) -> Counter[str]:
        return Counter(o.action.site for o in svc.outcomes  # type: ignore[union-attr]
                       if o.kind == "task" and o.action is not None)

    async def scenario() -> tuple[Counter[str], Counter[str], Counter[str], list[str]]:
        async with MqttSession(settings.mqtt, f"pub-{site_id}", clean_session=True) as pub:
            a = shard("a")
            b = shard("b")
            await a.__aenter__()
            await b.__aenter__()
            try:
                await apoll(lambda: a.shards.members == {"a", "b"} == b.shards.members,
                            timeout_s=10, what="both shards see each other")
                for site in sites:
                    await low_battery(pub, site, "soil-1", T0)
                await apoll(lambda: sum(judged(a).values()) + sum(judged(b).values())
                            >= len(sites), timeout_s=20, what="a task per site")
                first_a, first_b = judged(a), judged(b)
                a_sites = [s for s in sites if a.shards.owns(s)]
            finally:
                await a.__aexit__(None, None, None)
            try:
                await apoll(lambda: b.shards.members == {"b"}, timeout_s=10,
                            what="b sees a leave")
                for site in a_sites:  # a new fault at a site a owned: now b's to judge
                    await low_battery(pub, site, "soil-2", T0 + 60 * MIN)
                for site in sites:  # every site talks on (the event clock is the slowest's)
                    if site not in a_sites:
                        await pub.send(device_topic(site, "soil-1", "soil"), encode(SoilReading(
                            seq=9, ts_ms=T0 + 90 * MIN, vwc_pct=25.0, bat_v=3.3)))
                await apoll(lambda: sum(judged(b)[s] for s in a_sites) >= len(a_sites),
                            timeout_s=20, what="b takes over a's sites")
                after_b = judged(b)
            finally:
                await b.__aexit__(None, None, None)
        return first_a, first_b, after_b, a_sites

    try:
        first_a, first_b, after_b, a_sites = asyncio.run(scenario())
    finally:
        db.dispose()
    # every site judged, each by exactly one shard
    assert sorted(first_a.elements()) + sorted(first_b.elements()) != []
    assert set(first_a) | set(first_b) == set(sites)
    assert not set(first_a) & set(first_b)
    assert all(n == 1 for n in (first_a + first_b).values())
    assert 0 < len(a_sites) < len(sites)  # both shards had work
    assert set(first_a) == set(a_sites)
    assert all(after_b[s] == 1 for s in a_sites)  # the handed-over faults, once each
