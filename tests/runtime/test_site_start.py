"""A site's first detector pass when its devices come in unevenly: two live nodes heard a moment
before a gateway flushes the other devices' backlog must not set the site's time to now — the
backlog is judged step by step at its own event times, as if it had come live."""

from __future__ import annotations

import random

from greeniot.analytics.contract import Event
from greeniot.analytics.engine import AnalyticsEngine
from greeniot.analytics.params import AnalyticsParams
from greeniot.estate import DeviceBinding, EstateContext, TreeInfo
from greeniot.protocol import TiltReading
from greeniot.runtime.feed import AnalyticsFeed, listed_devices

SITE = "start"
TICK_MS = 600_000
READ_MS = 300_000
NOW = 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000
SPAN_MS = 12 * 3_600_000
N = 8
LIVE = ("tilt-0", "tilt-1")  # report live; the others' gateway is hours behind


def estate() -> EstateContext:
    return EstateContext(devices=tuple(DeviceBinding(SITE, f"tilt-{i}", "tilt", tree=f"t{i}")
                                       for i in range(N)),
                         trees=tuple(TreeInfo(SITE, f"t{i}") for i in range(N)), zones=())


def feed(ctx: EstateContext, *, listed: bool) -> AnalyticsFeed:
    params = AnalyticsParams()
    return AnalyticsFeed(lambda _site: AnalyticsEngine(ctx, params=params), tick_ms=TICK_MS,
                         max_future_ms=300_000, max_age_ms=30 * 86_400_000,
                         health=params.health, idle_s=30.0,
                         devices=(lambda site: listed_devices(ctx).get(site, frozenset()))
                         if listed else (lambda _site: frozenset()))


def backlog(rng: random.Random, fall_ms: int) -> list[tuple[str, TiltReading]]:
    """12 h of 5-min readings of the backlogged devices, in time order; tilt-5 falls."""
    out: list[tuple[str, TiltReading]] = []
    for i in range(len(LIVE), N):
        phase = rng.randrange(READ_MS)
        for k, t in enumerate(range(NOW - SPAN_MS + phase, NOW, READ_MS)):
            down = i == 5 and t >= fall_ms
            pitch = 40.0 + rng.gauss(0, 0.5) if down else 0.3 + rng.gauss(0, 0.02)
            out.append((f"tilt-{i}", TiltReading(seq=k, ts_ms=t, pitch_deg=round(pitch, 3),
                                                 roll_deg=-0.2, temp_c=20.0)))
    out.sort(key=lambda x: x[1].ts_ms)
    return out


def play(f: AnalyticsFeed, items: list[tuple[str, TiltReading]], *, live_first: bool,
         first: tuple[str, ...] = LIVE) -> list[tuple[int, Event]]:
    """Offer as the maintenance loop does (a pass check after every batch of 50); readings
    at ``NOW`` of the devices ``first`` (the live nodes) first when ``live_first``. Returns
    (pass time, event)."""
    f.urgent = False  # the passes alone: this is about when they run
    got: list[tuple[int, Event]] = []
    wall = NOW + 1000

    def due() -> None:
        for _site, now, result in f.due(wall):
            got.extend((now, ev) for ev in result.events)

    if live_first:
        for dev in first:
            f.offer(SITE, dev, TiltReading(seq=1, ts_ms=NOW, pitch_deg=0.3, roll_deg=-0.2,
                                           temp_c=20.0), NOW + 200)
        due()
    for k in range(0, len(items), 50):
        wall += 20  # a backlog drains in seconds
        for dev, msg in items[k:k + 50]:
            f.offer(SITE, dev, msg, wall)
        due()
    f.catch_up()
    due()
    return got


def failures(got: list[tuple[int, Event]]) -> list[tuple[int, Event]]:
    return [(now, ev) for now, ev in got if ev.kind == "failure"]


def test_a_backlog_behind_two_live_nodes_is_judged_at_its_own_times() -> None:
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        fall = NOW - SPAN_MS + rng.randrange(4 * 3_600_000, 10 * 3_600_000)
        items = backlog(rng, fall)
        alone = failures(play(feed(estate(), listed=True), items, live_first=False))
        mixed = failures(play(feed(estate(), listed=True), items, live_first=True))
        assert alone and mixed
        (t_alone, ev_alone), (t_mixed, ev_mixed) = alone[0], mixed[0]
        assert ev_mixed.device == ev_alone.device == "tilt-5"
        assert ev_mixed.ts_ms == ev_alone.ts_ms
        # raised by the pass of the step the fall is in, not by one pass at "now"
        assert t_mixed == t_alone
        assert fall <= t_mixed <= fall + 2 * TICK_MS + READ_MS, (seed, t_mixed - fall)


def test_devices_the_registry_does_not_list_never_set_the_site_time() -> None:
    """Twelve nodes the registry does not list (more than the eight it does) report live
    "now", before and while the backlog drains; the backlog is still judged at its own
    times, the fall raised by the same pass as without them — and they would have set the
    time had they been listed (the check that this test can fail)."""
    junk = tuple(f"junk-{i}" for i in range(12))
    for seed in (4, 5):
        rng = random.Random(seed)
        fall = NOW - SPAN_MS + rng.randrange(4 * 3_600_000, 10 * 3_600_000)
        items = backlog(rng, fall)
        alone = failures(play(feed(estate(), listed=True), items, live_first=False))
        mixed = failures(play(feed(estate(), listed=True), items, live_first=True, first=junk))
        assert alone and mixed and mixed[0][1].device == "tilt-5"
        assert mixed[0][1].ts_ms == alone[0][1].ts_ms and mixed[0][0] == alone[0][0]
        ctx = estate()
        known = EstateContext(devices=ctx.devices + tuple(
            DeviceBinding(SITE, d, "tilt") for d in junk), trees=ctx.trees, zones=())
        listed = failures(play(feed(known, listed=True), items, live_first=True, first=junk))
        assert not listed or listed[0][0] >= NOW


def test_without_the_registry_count_the_live_nodes_would_set_the_time() -> None:
    """What the count is for: a feed told nothing of the site's devices lets the first two
    heard set the site's time, and the fall, hours ago, is not raised on time (one pass at
    'now' takes the whole backlog: at best late, here not at all)."""
    rng = random.Random(7)
    fall = NOW - SPAN_MS + 5 * 3_600_000
    got = failures(play(feed(estate(), listed=False), backlog(rng, fall), live_first=True))
    assert not got or got[0][0] >= NOW


def test_devices_never_heard_hold_the_clock_back_only_for_idle_s() -> None:
    f = feed(estate(), listed=True)
    f.urgent = False
    for dev in LIVE:  # 2 of 8 devices installed: the others never report
        f.offer(SITE, dev, TiltReading(seq=1, ts_ms=NOW, pitch_deg=0.3, roll_deg=-0.2),
                NOW)
    assert list(f.due(NOW + 10_000)) == []  # waiting for the others
    assert [now for _s, now, _r in f.due(NOW + 31_000)] == [NOW]  # then on without them
