"""Keyword-only functions over the registry, each taking a ``session`` first.

Every function that writes commits its own transaction (one call, one unit of work), so a
caller never leaves a task or alert uncommitted. Lookups by key raise
:class:`~greeniot.registry.errors.NotFoundError`; time arguments are int ms UTC and default to
the wall clock (analytics/actions pass event time as ``now_ms``).

Task state changes (acknowledge, assign, start, close, cancel) are in
:mod:`greeniot.registry.workflow`.
"""

from greeniot.registry.crud.alerts import (
    acknowledge_alert,
    ensure_alert,
    find_open_alert,
    get_alert,
    list_alerts,
    new_alert_id,
    raise_alert,
)
from greeniot.registry.crud.commands import (
    create_command,
    expire_commands,
    get_command,
    list_commands,
    mark_failed,
    mark_sent,
    new_command_id,
    record_ack,
)
from greeniot.registry.crud.estate import (
    create_device,
    create_site,
    create_tree,
    create_zone,
    get_device,
    get_site,
    get_tree,
    get_zone,
    list_devices,
    list_sites,
    list_trees,
    list_zones,
    record_device_status,
    update_device,
    update_site,
    update_tree,
    update_zone,
)
from greeniot.registry.crud.tasks import (
    create_task,
    ensure_task,
    find_active_task,
    get_task,
    list_tasks,
    open_task_once,
)

__all__ = [
    "acknowledge_alert",
    "create_command",
    "create_device",
    "create_site",
    "create_task",
    "create_tree",
    "create_zone",
    "ensure_alert",
    "ensure_task",
    "expire_commands",
    "find_active_task",
    "find_open_alert",
    "get_alert",
    "get_command",
    "get_device",
    "get_site",
    "get_task",
    "get_tree",
    "get_zone",
    "list_alerts",
    "list_commands",
    "list_devices",
    "list_sites",
    "list_tasks",
    "list_trees",
    "list_zones",
    "mark_failed",
    "mark_sent",
    "new_alert_id",
    "new_command_id",
    "open_task_once",
    "raise_alert",
    "record_ack",
    "record_device_status",
    "update_device",
    "update_site",
    "update_tree",
    "update_zone",
]
