"""Actions: decide purely, execute thinly.

- :mod:`~greeniot.actions.interlocks` — may this zone's valve open now, for how long, and why
  (pure);
- :mod:`~greeniot.actions.plan` — what is decided: valve opens, tasks, alerts;
- :mod:`~greeniot.actions.irrigation` — the one irrigation path: zone water state →
  interlocks → valve opens (pure);
- :mod:`~greeniot.actions.rules` — analytics events → crew tasks and alerts, ranked with the
  irrigation decisions (pure);
- :mod:`~greeniot.actions.zones` — the zone state the interlocks judge, from weather, valve
  events, commands and acks;
- :mod:`~greeniot.actions.valves` — valve commands: record, publish QoS 1, settle by ack or
  deadline;
- :mod:`~greeniot.actions.executor` — applies decisions to the registry and the broker and
  returns one printable outcome per action;
- :mod:`~greeniot.actions.sinks` — alert outputs (MQTT now; publishing itself is
  :class:`greeniot.transport.mqtt.MqttSession`).
"""

from greeniot.actions.executor import ActionExecutor, Outcome
from greeniot.actions.interlocks import Decision, InterlockParams, ZoneState, may_open
from greeniot.actions.irrigation import plan_irrigation
from greeniot.actions.plan import Action, Alert, Task, ValveOpen
from greeniot.actions.rules import decide
from greeniot.actions.sinks.mqtt import MqttAlertSink
from greeniot.actions.valves import CommandError, ValveCommander
from greeniot.actions.zones import ZoneTracker

__all__ = [
    "Action",
    "ActionExecutor",
    "Alert",
    "CommandError",
    "Decision",
    "InterlockParams",
    "MqttAlertSink",
    "Outcome",
    "Task",
    "ValveCommander",
    "ValveOpen",
    "ZoneState",
    "ZoneTracker",
    "decide",
    "may_open",
    "plan_irrigation",
]
