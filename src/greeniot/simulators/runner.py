"""Play a scenario over MQTT in compressed time: the entry point the greeniot CLI calls.

Simulated time ``t`` maps to device time ``start_ms + t``. The start is chosen so that no
timestamp is ever ahead of the wall clock when it is published and the last ones land at about
"now" when the run ends (InfluxQL ``now()``-bounded queries miss future points): with a finite
``speed``, ``start_ms = wall_start − span + span/speed``; with ``speed=None`` (as fast as the
broker acknowledges, for tests and loads) ``start_ms = wall_start − span``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from contextlib import AsyncExitStack
from dataclasses import dataclass

from greeniot.protocol import Status, device_topic, encode
from greeniot.simulators.confirmed import ConfirmedSender, stored_filter
from greeniot.simulators.engine import SimOptions, Simulation
from greeniot.simulators.fleet import Fleet
from greeniot.simulators.outgoing import Outgoing
from greeniot.simulators.publisher import Publisher
from greeniot.simulators.scenarios import Scenario, get_scenario
from greeniot.simulators.truth import GroundTruth

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Progress:
    t_s: float  # simulated seconds done
    span_s: float
    ts_ms: int  # device time reached
    published: int  # messages sent so far (all sessions)
    acked: int

    @property
    def fraction(self) -> float:
        return self.t_s / self.span_s


@dataclass(frozen=True, slots=True)
class RunResult:
    truth: GroundTruth
    start_ms: int
    end_ms: int
    #: (site, device) → sequence numbers used (each device sent seq 0 … n−1 exactly once)
    seq_counts: dict[tuple[str, str], int]
    published: int  # MQTT messages, statuses included
    wall_s: float
    reconnects: int = 0  # sessions re-established after losing the broker


def start_ms_for(wall_now_ms: int, span_s: float, speed: float | None) -> int:
    """Device time of ``t = 0`` such that the run ends at about ``wall_now_ms`` + wall length."""
    span_ms = round(span_s * 1000)
    if speed is None:
        return wall_now_ms - span_ms
    if speed <= 0:
        raise ValueError(f"speed must be > 0 or None, got {speed}")
    return wall_now_ms + min(0, round(span_ms / speed) - span_ms)


async def run(scenario: Scenario | str, fleet: Fleet, *, host: str = "127.0.0.1",
              port: int = 1883, span_s: float | None = None, speed: float | None = None,
              step_s: float = 60.0, on_progress: Callable[[Progress], None] | None = None,
              options: SimOptions | None = None, external_valves: Collection[str] = (),
              cap_external_runs: bool = True,
              seed: int | None = None, client_id_prefix: str = "greeniot-sim",
              username: str | None = None, password: str | None = None,
              max_inflight: int = 1000, offline_at_end: bool = True,
              clock_ms: Callable[[], int] | None = None,
              confirm_resend_s: float | None = None,
              confirm_timeout_s: float = 300.0) -> RunResult:
    """Simulate ``fleet`` through ``scenario`` and publish everything to the broker.

    Parameters
    ----------
    scenario : a :class:`Scenario` or its name (``calm``, ``drought``, ``typhoon``).
    span_s : simulated span [s]; default the scenario's own.
    speed : simulated seconds per wall second (2880 plays 2 days in 60 s); ``None`` = unpaced.
    step_s : simulated seconds per step: resolution of soil and valve integration, and how often
        incoming commands are taken.
    on_progress : called about every 1 % of the span and at the end.
    external_valves : valve device ids served by real nodes (the simulator listens to their
        ``valve`` events instead of simulating them).
    cap_external_runs : an external node's opening waters at most the zone's ``max_run_s``
        simulated seconds (its wall-clock run would be stretched by ``speed``); False waters
        for as long as it reports open.
    clock_ms : wall clock [ms UTC], injectable for tests.
    confirm_resend_s : follow ingest's ``stored`` confirmations as the firmware does: keep every
        reading until confirmed, resend after this many seconds, and at the end wait (up to
        ``confirm_timeout_s``) until all are confirmed. ``None``: trust the broker's PUBACK.
    offline_at_end : publish every device's retained ``shutdown`` status when the run ends
        (a clean stop, which analytics does not take for a fault).

    Returns
    -------
    RunResult
        Ground truth and exact per-device message counts, after every message was acknowledged.
    """
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    span = float(span_s if span_s is not None else sc.default_span_s)
    if step_s <= 0:
        raise ValueError(f"step_s must be > 0, got {step_s}")
    clock = clock_ms or (lambda: time.time_ns() // 1_000_000)
    wall0 = time.monotonic()
    sim = Simulation(fleet, sc, start_ms=start_ms_for(clock(), span, speed), span_s=span,
                     options=options, seed=seed, external_valves=frozenset(external_valves),
                     cap_external_runs=cap_external_runs)
    log.info("simulating %s: %d sites, %d trees, %d zones, %.0f s at speed %s",
             sc.name, len(fleet.sites), len(fleet.trees), len(fleet.zones), span, speed)
    async with AsyncExitStack() as stack:
        pubs: dict[str, Publisher] = {}
        senders: dict[str, ConfirmedSender] = {}
        for site in fleet.sites:
            will = Status(state="offline")
            subs = list(sim.subscriptions(site.site))
            if confirm_resend_s is not None:
                subs.append(stored_filter(site.site))
            pubs[site.site] = await stack.enter_async_context(Publisher(
                host=host, port=port, client_id=f"{client_id_prefix}-{site.site}",
                will=(device_topic(site.site, site.weather_device, "status"), encode(will)),
                births=_births(sim, site.site),
                subscriptions=subs,
                max_inflight=max_inflight, username=username, password=password))
            if confirm_resend_s is not None:
                senders[site.site] = await stack.enter_async_context(
                    ConfirmedSender(pubs[site.site], resend_s=confirm_resend_s, receive=False))

        async def send(msgs: list[Outgoing]) -> None:
            for m in msgs:
                sender = senders.get(m.site)
                if sender is not None and m.seqs and not m.retain:
                    await sender.send(m.topic, m.payload, m.seqs)
                else:
                    await pubs[m.site].publish(m.topic, m.payload, retain=m.retain)

        def progress() -> Progress:
            return Progress(sim.t_s, span, sim.now_ms, sum(p.sent for p in pubs.values()),
                            sum(p.acked for p in pubs.values()))

        # Paced from here, not from before the connects: a slow connect would otherwise be
        # caught up by publishing the run's first part as fast as possible.
        pace0 = time.monotonic()
        await send(sim.boot())
        next_report = 0.0
        while not sim.done:
            for pub in pubs.values():  # commands and external valve events, at "now"
                while not pub.incoming.empty():
                    topic, payload = pub.incoming.get_nowait()
                    sender = senders.get(topic.split("/")[2])
                    if sender is not None and sender.handle(topic, payload):
                        continue
                    await send(sim.handle(topic, payload))
            t1 = min(sim.t_s + step_s, span)
            if speed is not None:  # never publish ahead of the wall clock
                delay = pace0 + t1 / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(sim.step(step_s))
            await asyncio.sleep(0)
            if on_progress is not None and (sim.t_s >= next_report or sim.done):
                on_progress(progress())
                next_report = sim.t_s + span / 100.0
        for pub in pubs.values():
            await pub.drain()
        await _confirmed(pubs, senders, confirm_timeout_s)
        if offline_at_end:
            # a clean end of the run is a planned shutdown, not a fault (no device tasks)
            await send(sim.statuses("shutdown"))
        for pub in pubs.values():
            await pub.drain()
        published = sum(p.sent for p in pubs.values())
        reconnects = sum(p.connects - 1 for p in pubs.values())
    return RunResult(sim.truth, sim.start_ms, sim.now_ms, sim.seq_counts(), published,
                     time.monotonic() - wall0, reconnects)


async def _confirmed(pubs: dict[str, Publisher], senders: dict[str, ConfirmedSender],
                     timeout_s: float) -> None:
    """Wait until ingest confirmed every reading (commands arriving now are ignored)."""
    async with asyncio.timeout(timeout_s):
        while any(s.pending for s in senders.values()):
            for site, sender in senders.items():
                q = pubs[site].incoming
                while not q.empty():
                    sender.handle(*q.get_nowait())
            await asyncio.sleep(0.05)


def _births(sim: Simulation, site: str) -> Callable[[], list[tuple[str, bytes, bool]]]:
    def births() -> list[tuple[str, bytes, bool]]:
        return [(o.topic, o.payload, True) for o in sim.statuses("online") if o.site == site]
    return births


def run_sync(scenario: Scenario | str, fleet: Fleet, **kwargs: object) -> RunResult:
    """:func:`run` for callers without an event loop."""
    return asyncio.run(run(scenario, fleet, **kwargs))  # type: ignore[arg-type]
