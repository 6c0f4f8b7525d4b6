"""The registry's closed vocabularies: Literal types for typing, tuples for checks and docs.

Stored as short strings (not database enums) so that adding a task kind needs no migration;
crud and the pydantic schemas refuse anything outside these lists.
"""

from __future__ import annotations

from typing import Literal, get_args

from greeniot.estate import DeviceKind

DeviceStatus = Literal["online", "offline", "sleeping", "shutdown", "unknown"]
TaskKind = Literal[
    "stabilize", "inspect", "straighten", "stake", "remove", "drain", "irrigate", "device_check",
]
TaskState = Literal["open", "acknowledged", "assigned", "in_progress", "closed", "cancelled"]
Severity = Literal["info", "warning", "critical"]
EvidenceKind = Literal["text", "url", "photo"]
ValveOp = Literal["open", "close"]
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
