"""The lifecycle through the real executor and rules: a post-storm sweep joins the open
stabilisation task of a heritage tree, and the executor's alerts reach a signed webhook through
the dispatcher plugged in as its sink (``DispatcherSink``), with no change to the executor."""

from __future__ import annotations

import asyncio
from typing import Any

from greeniot.actions.executor import ActionExecutor
from greeniot.actions.lifecycle import clear_condition, clear_subject
from greeniot.actions.rules import decide
from greeniot.actions.sinks.dispatcher import AlertDispatcher, DispatcherSink
from greeniot.actions.valves import ValveCommander
from greeniot.config import DeliverySettings, MqttSettings
from greeniot.registry import crud
from greeniot.services import MosquittoProcess, free_port
from greeniot.transport.mqtt import MqttSession
from tests.actions.conftest import Clock
from tests.actions.receivers import WebhookReceiver
from tests.actions.test_executor import estate, event

SECRET = "lifecycle-secret-0123"


def test_post_storm_sweep_joins_the_heritage_trees_stabilize_task_and_alerts_are_delivered(
        mosquitto: MosquittoProcess, sessions: Any, clock: Clock, site_id: str) -> None:
    ctx = estate(site_id)  # h001 is a heritage tree
    hook = WebhookReceiver(SECRET, free_port()).start()
    with sessions() as s:
        crud.add_route(s, name="ops", kind="webhook", target=hook.url, secret=SECRET,
                       site=site_id, min_severity="warning", locale="en")
    lean = [event(site_id, "lean_step", "critical", clock.now_ms, value=1.6, threshold=0.9,
                  tree="h001", device="tilt-h001")]
    storm_over = [event(site_id, "storm", "info", clock.now_ms + 3_600_000, value=8.0,
                        threshold=20.0, unit="m/s", device="wx-1", phase="clear")]

    async def main() -> list[Any]:
        async with MqttSession(MqttSettings(port=mosquitto.port), "test-lifecycle",
                               clean_session=True) as mqtt, \
                AlertDispatcher(sessions, DeliverySettings(), publish=mqtt.send) as dispatcher:
            commander = ValveCommander(sessions, mqtt.send, clock)
            ex = ActionExecutor(sessions, mqtt.send, commander, clock,
                                sinks=[DispatcherSink(dispatcher)])
            first = await ex.apply(decide(lean, ctx))
            clock.advance(3600)
            second = await ex.apply(decide(storm_over, ctx))
            cleared = await clear_condition(sessions, dispatcher,
                                            key=f"stabilize:{site_id}:h001",
                                            ts_ms=clock.now_ms, note="lean back to baseline")
            assert cleared is not None
            assert await dispatcher.drain(10)  # in order: this clear before the next
            rest = await clear_subject(sessions, dispatcher, site=site_id, tree="h001",
                                       ts_ms=clock.now_ms, note="inspected: sound")
            assert [a.kind for a in rest] == ["inspect"]  # the sweep's alarm
            assert await dispatcher.drain(10)
            return [first, second]

    try:
        first, second = asyncio.run(main())
    finally:
        hook.stop()
    task_ids = {o.ref for o in first + second
                if o.kind == "task" and getattr(o.action, "tree", None) == "h001"}
    assert len(task_ids) == 1  # the sweep's inspect joined the stabilize task
    with sessions() as s:
        (task,) = [t for t in crud.list_tasks(s, site=site_id) if t.tree == "h001"]
        assert (task.kind, task.priority, task.tree) == ("stabilize", 1, "h001")
        assert any(h.note.startswith("joined by inspect") and "post-storm sweep" in h.note
                   for h in task.history)
        deliveries = crud.list_deliveries(s)
    # webhook: the stabilize alert (critical), the sweep's inspect alert (warning) and their
    # clears; the info "storm over" alert is below the route's minimum
    got = [r.json["items"][0] for r in hook.got]
    assert all(r.verified for r in hook.got)
    # (the sweep's inspection of a tree is an info-level alert since the estate-wide sweep:
    # below this route's minimum, it reaches MQTT only)
    assert [(g["phase"], g["alert"]["kind"]) for g in got] == [
        ("raised", "lean_step"), ("cleared", "lean_step")]
    assert got[-1]["body"].startswith("Cleared: lean back to baseline")
    assert got[0]["title"] == "[CRITICAL] sudden lean: tree h001 at " + site_id
    assert all(d.state == "delivered" for d in deliveries)
    assert {d.recipient for d in deliveries} == {"route:ops", f"mqtt:{site_id}"}
