"""The registry's closed vocabularies: Literal types for typing, tuples for checks and docs.

Stored as short strings (not database enums) so that adding a task kind needs no migration;
crud and the pydantic schemas refuse anything outside these lists.
"""

from __future__ import annotations

from typing import Literal, get_args

from greeniot.estate import DeviceKind

DeviceStatus = Literal["online", "offline", "sleeping", "unknown"]
TaskKind = Literal[
    "stabilize", "inspect", "straighten", "stake", "remove", "drain", "irrigate", "device_check",
    # estate management (complaints, calendar, sunlight)
    "prune", "pest_control", "winter_protect", "service", "repair",
]
TaskState = Literal["open", "acknowledged", "assigned", "in_progress", "closed", "cancelled"]
Severity = Literal["info", "warning", "critical"]
EvidenceKind = Literal["text", "url", "photo"]
ValveOp = Literal["open", "close"]
CrownShape = Literal["ellipsoid", "cone"]
ValveState = Literal["open", "closed"]
CommandState = Literal["pending", "sent", "acked", "refused", "expired", "failed"]

DEVICE_KINDS: tuple[str, ...] = get_args(DeviceKind)
DEVICE_STATUSES: tuple[str, ...] = get_args(DeviceStatus)
TASK_KINDS: tuple[str, ...] = get_args(TaskKind)
TASK_STATES: tuple[str, ...] = get_args(TaskState)
SEVERITIES: tuple[str, ...] = get_args(Severity)
COMMAND_STATES: tuple[str, ...] = get_args(CommandState)

#: States in which a task still needs work; a dedup key is unique among these.
ACTIVE_TASK_STATES: tuple[str, ...] = ("open", "acknowledged", "assigned", "in_progress")
#: Commands still waiting for their ack; ``expire_commands`` ends them at their deadline.
WAITING_COMMAND_STATES: tuple[str, ...] = ("pending", "sent")
#: Severity order, lowest first (a repeated alert keeps the highest severity seen).
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
#: Task priority: 1 is the most urgent.
PRIORITY_MIN, PRIORITY_MAX = 1, 5

# --- lifecycle: alarms, related work, responsibility chain, deliveries ------------------------
AlarmState = Literal["active", "acknowledged", "cleared"]
ALARM_STATES: tuple[str, ...] = get_args(AlarmState)
#: An alarm in these states holds its dedup key: a repeat folds into it, a worse one escalates.
LIVE_ALARM_STATES: tuple[str, ...] = ("active", "acknowledged")

#: Kinds of work that are one job on one subject, mildest first. A task raised for a tree that
#: already has an active task of the same family joins it (a post-storm ``inspect`` of a tree
#: being stabilised is part of that work); a harsher kind turns the task into that kind.
WORK_FAMILIES: dict[str, tuple[str, ...]] = {
    "tree_risk": ("inspect", "stake", "straighten", "stabilize", "remove"),
    "drainage": ("drain",),
    "irrigation": ("irrigate",),
    "device": ("device_check",),
}
#: task kind → (family, rank within the family).
WORK_RANK: dict[str, tuple[str, int]] = {
    kind: (family, rank) for family, kinds in WORK_FAMILIES.items()
    for rank, kind in enumerate(kinds)
}

#: The responsibility chain of a site, in escalation order. A task's first responsible person
#: is the first ``crew`` member on the site roster; a passed SLA hands it to the next role.
ChainRole = Literal["crew", "contractor", "property_manager", "authority"]
CHAIN_ROLES: tuple[str, ...] = get_args(ChainRole)

SinkKind = Literal["mqtt", "webhook", "apprise"]
SINK_KINDS: tuple[str, ...] = get_args(SinkKind)
#: ``queued`` → ``delivered``; a failed attempt → ``failed`` (retried with backoff) →
#: ``delivered``, or ``gave_up`` after the last attempt. ``held``: over the recipient's rate
#: limit, waiting to go out folded into a digest.
DeliveryState = Literal["queued", "held", "failed", "delivered", "gave_up"]
DELIVERY_STATES: tuple[str, ...] = get_args(DeliveryState)
#: What a notification is about.
NotificationPhase = Literal["raised", "escalated", "cleared", "sla"]
