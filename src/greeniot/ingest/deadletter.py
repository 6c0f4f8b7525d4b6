"""Dead letters: a refused payload, published with its reason so nothing vanishes silently."""

from __future__ import annotations

import base64
import json

from greeniot.protocol.codec import Rejection
from greeniot.protocol.topics import dead_letter_topic


def dead_letter(topic: str, payload: bytes, rejection: Rejection, received_ms: int
                ) -> tuple[str, bytes]:
    """(topic, payload) of the dead letter for one rejection of one MQTT message."""
    body: dict[str, object] = {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "topic": topic,
        "received_ms": received_ms,
    }
    if rejection.index is not None:
        body["index"] = rejection.index
    try:
        body["payload"] = payload.decode()
    except UnicodeDecodeError:
        body["payload"] = base64.b64encode(payload).decode()
        body["encoding"] = "base64"
    return dead_letter_topic(rejection.reason), json.dumps(body, separators=(",", ":")).encode()
