"""The broker goes away mid-run and comes back: the simulator waits, resends, loses nothing."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

from greeniot.services import MosquittoProcess
from greeniot.simulators import Fleet, Progress, RunResult, SimOptions, run
from tests.simulators.conftest import Observer, wait_until


def test_broker_restart_mid_run_loses_nothing(tmp_path: Path, site_id: str) -> None:
    broker = MosquittoProcess(tmp_path / "broker", persistence=True)
    broker.start()
    # a persistent observer session, so the broker queues for it while it is away
    observer = Observer(broker.port, site_id, client_id=f"obs-{site_id}", clean_session=False)
    fleet = Fleet.generate(trees_per_site=8, zones_per_site=2, seed=9, site_ids=[site_id])
    restarted: list[MosquittoProcess] = []
    progress: list[Progress] = []

    async def main() -> RunResult:
        task = asyncio.create_task(run("typhoon", fleet, port=broker.port, span_s=4 * 3600,
                                       speed=3600, step_s=60,
                                       options=SimOptions(tilt_interval_s=60, burst=False),
                                       on_progress=progress.append))
        await asyncio.to_thread(wait_until, lambda: observer.count() > 100, 10, "traffic")
        await asyncio.to_thread(broker.stop)  # SIGTERM: the broker saves its queues
        sent_at_down = progress[-1].published
        deadline = time.monotonic() + 10
        while progress[-1].published < sent_at_down + 200:  # the fleet keeps producing
            assert time.monotonic() < deadline, "the simulator stalled while the broker was down"
            await asyncio.sleep(0.01)
        assert progress[-1].acked < progress[-1].published
        again = MosquittoProcess(tmp_path / "broker", port=broker.port, persistence=True)
        await asyncio.to_thread(again.start)
        restarted.append(again)
        return await task

    try:
        result = asyncio.run(main())
        expected = sum(result.seq_counts.values())

        def readings_seen() -> int:
            seqs = {(s.device, m.seq) for s in observer.seen for m in s.messages  # type: ignore[attr-defined]
                    if hasattr(m, "seq")}
            return len(seqs)

        wait_until(lambda: readings_seen() >= expected, 30, f"{expected} distinct readings")
        by_dev: dict[str, dict[int, bytes]] = defaultdict(dict)
        for s in observer.seen:
            assert s.rejections == ()
            for m in s.messages:
                seq = getattr(m, "seq", None)
                if seq is None:
                    continue
                # at-least-once: a redelivered message is byte-identical to the first
                assert by_dev[s.device].setdefault(seq, s.payload) == s.payload
        assert {d: sorted(v) for d, v in by_dev.items()} == {
            dev: list(range(n)) for (_, dev), n in result.seq_counts.items()}
        assert len(restarted) == 1 and result.published >= expected
        assert result.reconnects == 1
    finally:
        observer.close()
        for b in (broker, *restarted):
            b.stop()
