"""A short run against the real broker: every message is valid v1, counted exactly, on time."""

from __future__ import annotations

from collections import Counter, defaultdict

from greeniot.protocol import Status
from greeniot.services import MosquittoProcess
from greeniot.simulators import Fleet, SimOptions, run_sync
from tests.simulators.conftest import Observer, wait_until, wall_ms


def test_short_run_exact_counts_valid_payloads_and_past_timestamps(
        mosquitto: MosquittoProcess, observer: Observer, site_id: str) -> None:
    fleet = Fleet.generate(trees_per_site=6, zones_per_site=3, seed=5, site_ids=[site_id])
    before_ms = wall_ms()
    result = run_sync("typhoon", fleet, port=mosquitto.port, span_s=12 * 3600, speed=None,
                      step_s=300, options=SimOptions(burst_s=5.0, batch_max=1))
    wait_until(lambda: observer.count() >= result.published, 20,
               f"{result.published} messages at the observer")
    seen = observer.seen
    assert len(seen) == result.published, "no duplicates"

    rejected = [(s.topic, s.rejections) for s in seen if s.rejections]
    assert rejected == []
    assert all(len(s.messages) == 1 for s in seen)

    # exact sequence numbers per device: 0 … n−1, each once
    seqs: dict[str, list[int]] = defaultdict(list)
    for s in seen:
        for m in s.messages:
            if hasattr(m, "seq"):
                seqs[s.device].append(m.seq)
    expected = {dev: n for (site, dev), n in result.seq_counts.items()}
    assert {d: sorted(v) for d, v in seqs.items()} == {d: list(range(n))
                                                       for d, n in expected.items()}
    every = {d.device for d in fleet.devices()}
    assert set(expected) == every, "every device reported"
    # the valves booted closed and nothing else (nobody commanded them)
    for z in fleet.zones:
        assert [m.cause for m in observer.messages(z.valve_device, "valve")] == ["boot"]

    # device time: in the past, never ahead of the moment it was received, ending near now
    stamps = [(m.ts_ms, s.received_ms) for s in seen for m in s.messages
              if getattr(m, "ts_ms", None) is not None]
    assert all(ts <= rx for ts, rx in stamps)
    assert min(ts for ts, _ in stamps) >= result.start_ms
    assert result.end_ms - result.start_ms == 12 * 3600_000
    assert abs(result.end_ms - before_ms) < 5_000
    readings = [m.ts_ms for s in seen if s.channel in ("tilt", "soil", "weather")
                for m in s.messages]
    assert max(readings) > result.end_ms - 900_000  # the last interval is there too

    # retained status: online for every device first, a planned shutdown at the end
    status = [(s.device, m.state) for s in seen if s.channel == "status" for m in s.messages
              if isinstance(m, Status)]
    by_dev: dict[str, list[str]] = defaultdict(list)
    for dev, state in status:
        by_dev[dev].append(state)
    assert by_dev == {d: ["online", "shutdown"] for d in every}
    assert Counter(s.channel for s in seen)["ack"] == 0


def test_batches_and_retained_shutdown_status(mosquitto: MosquittoProcess, observer: Observer,
                                            site_id: str) -> None:
    fleet = Fleet.generate(trees_per_site=2, zones_per_site=1, seed=2, site_ids=[site_id])
    result = run_sync("calm", fleet, port=mosquitto.port, span_s=6 * 3600, step_s=3600,
                      options=SimOptions(batch_max=50, tilt_interval_s=300, burst=False))
    wait_until(lambda: observer.count() >= result.published, 20, "all messages")
    tilt_dev = fleet.trees[0].tilt_device
    payloads = [s for s in observer.seen if s.device == tilt_dev and s.channel == "tilt"]
    assert all(s.rejections == () for s in payloads)
    assert all(s.payload.startswith(b'{"v":1,"batch":[') for s in payloads)
    assert sorted(m.seq for s in payloads for m in s.messages) == list(range(6 * 3600 // 300))
    assert max(len(s.messages) for s in payloads) == 12  # one hour of 5-min readings per step
    assert result.seq_counts[(site_id, tilt_dev)] == 6 * 3600 // 300

    late = Observer(mosquitto.port, site_id)  # joins after the run: sees retained only
    try:
        every = {d.device for d in fleet.devices()}
        wait_until(lambda: late.count() >= len(every), 10, "retained statuses")
        assert {s.device for s in late.seen} == every
        assert all(s.retain and s.messages[0].state == "shutdown" for s in late.seen)
    finally:
        late.close()
