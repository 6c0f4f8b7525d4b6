"""What a sink delivers: a :class:`Notification` (one alert, a clear, an SLA escalation), and
the failure a sink reports (:class:`DeliveryError`, retried unless ``permanent``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from greeniot.actions.sinks.texts import Reader, Texts
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
    """One message for people and machines: a title and body for people, in the language
    (``locale``) and time zone (``tz``) of its recipient, and the protocol alert, the same
    for every recipient, for machines. ``ref`` identifies it (one delivery per ref and
    recipient)."""

    ref: str
    phase: str  # vocab.NotificationPhase
    site: str
    severity: str
    title: str
    body: str
    alert: Alert
    locale: str = "en"
    tz: str = "UTC"

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "phase": self.phase, "site": self.site,
                "severity": self.severity, "title": self.title, "body": self.body,
                "locale": self.locale, "tz": self.tz,
                "alert": self.alert.model_dump(mode="json", exclude_none=True)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        return cls(ref=data["ref"], phase=data["phase"], site=data["site"],
                   severity=data["severity"], title=data["title"], body=data["body"],
                   alert=Alert.model_validate(data["alert"]),
                   locale=data.get("locale", "en"), tz=data.get("tz", "UTC"))


def digest_text(items: Sequence[Notification], texts: Texts) -> tuple[str, str]:
    """Title and body of a digest folding ``items`` (a storm) into one message, in the
    language of the recipient (the items' own, rendered for that recipient)."""
    if len(items) == 1:
        return items[0].title, items[0].body
    reader = Reader(items[0].locale, items[0].tz)
    return texts.digest([(n.site, n.severity, n.title, n.body) for n in items], reader)


class Sink(Protocol):
    """Delivers one notification, or several as one digest, to ``recipient``; raises
    :class:`DeliveryError` (or any exception: retried) when it cannot. ``delivery_ids`` are
    the registry's delivery rows it carries (a webhook passes them on for de-duplication)."""

    async def deliver(self, recipient: Recipient, items: Sequence[Notification],
                      delivery_ids: Sequence[int] = ()) -> None: ...
