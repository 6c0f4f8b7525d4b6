"""Dead letters: a refused payload, published with its reason so nothing vanishes silently.

A dead letter carries at most ``MAX_DEAD_PAYLOAD_BYTES`` of the original payload (a 256 KB
garbage payload must not become a 256 KB dead letter per message); ``payload_bytes`` gives the
full size and ``truncated`` says when the text is a prefix.
"""

from __future__ import annotations

import base64
import json

from greeniot.protocol.codec import Rejection
from greeniot.protocol.topics import dead_letter_topic

MAX_DEAD_PAYLOAD_BYTES = 1024


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
    head = payload[:MAX_DEAD_PAYLOAD_BYTES]
    if len(head) < len(payload):
        body["payload_bytes"] = len(payload)
        body["truncated"] = True
    try:
        body["payload"] = head.decode()
    except UnicodeDecodeError as err:
        if len(head) < len(payload) and err.start >= len(head) - 3:
            body["payload"] = head[:err.start].decode()  # cut inside a multi-byte character
        else:
            body["payload"] = base64.b64encode(head).decode()
            body["encoding"] = "base64"
    return dead_letter_topic(rejection.reason), json.dumps(body, separators=(",", ":")).encode()
