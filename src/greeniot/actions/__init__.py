"""Actions: decide purely, execute thinly.

- :mod:`~greeniot.actions.interlocks` — may this zone's valve open now, for how long, and why
  (pure);
- :mod:`~greeniot.actions.rules` — analytics events → valve opens, crew tasks, alerts (pure);
- :mod:`~greeniot.actions.zones` — the zone state the interlocks judge, from weather, valve
  events, commands and acks;
- :mod:`~greeniot.actions.droughts` — keeps a dry zone in view after analytics' one (latched)
  drought event, while fresh probe readings stay dry;
- :mod:`~greeniot.actions.valves` — valve commands: record, publish QoS 1, settle by ack or
  deadline;
- :mod:`~greeniot.actions.executor` — applies decisions to the registry and the broker and
  returns one printable outcome per action;
- :mod:`~greeniot.actions.sinks` — alert outputs (MQTT now; publishing itself is
  :class:`greeniot.transport.mqtt.MqttSession`).
"""

from greeniot.actions.droughts import DroughtEpisodes
from greeniot.actions.executor import ActionExecutor, Outcome
from greeniot.actions.interlocks import Decision, InterlockParams, ZoneState, may_open
from greeniot.actions.rules import Action, Alert, Task, ValveOpen, decide
from greeniot.actions.sinks.mqtt import MqttAlertSink
from greeniot.actions.valves import CommandError, ValveCommander
from greeniot.actions.zones import ZoneTracker

__all__ = [
    "Action",
    "ActionExecutor",
    "Alert",
    "CommandError",
    "Decision",
    "DroughtEpisodes",
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
]
