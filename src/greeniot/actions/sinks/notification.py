"""What a sink delivers: a :class:`Notification` (one alert, a clear, an SLA escalation), and
the failure a sink reports (:class:`DeliveryError`, retried unless ``permanent``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from greeniot.protocol import Alert
from greeniot.registry.crud.deliveries import Recipient


class DeliveryError(Exception):
    """A delivery attempt failed; ``permanent`` ones (a 4xx answer, a refused URL) are not
    retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for people and machines: a title and body for people, the protocol alert
    for machines. ``ref`` identifies it (one delivery per ref and recipient)."""

    ref: str
    phase: str  # vocab.NotificationPhase
    site: str
    severity: str
    title: str
    body: str
    alert: Alert

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "phase": self.phase, "site": self.site,
                "severity": self.severity, "title": self.title, "body": self.body,
                "alert": self.alert.model_dump(mode="json", exclude_none=True)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        return cls(ref=data["ref"], phase=data["phase"], site=data["site"],
                   severity=data["severity"], title=data["title"], body=data["body"],
                   alert=Alert.model_validate(data["alert"]))


def digest_text(items: Sequence[Notification]) -> tuple[str, str]:
    """Title and body of a digest folding ``items`` (a storm) into one message."""
    if len(items) == 1:
        return items[0].title, items[0].body
    sites = sorted({n.site for n in items})
    worst = max(items, key=lambda n: ("info", "warning", "critical").index(n.severity))
    title = (f"[{worst.severity.upper()}] greeniot digest: {len(items)} notifications "
             f"({', '.join(sites)})")
    body = "\n".join(f"- {n.title}: {n.body}" for n in items)
    return title, body


class Sink(Protocol):
    """Delivers one notification, or several as one digest, to ``recipient``; raises
    :class:`DeliveryError` (or any exception: retried) when it cannot. ``delivery_ids`` are
    the registry's delivery rows it carries (a webhook passes them on for de-duplication)."""

    async def deliver(self, recipient: Recipient, items: Sequence[Notification],
                      delivery_ids: Sequence[int] = ()) -> None: ...
