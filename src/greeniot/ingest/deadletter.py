"""Dead letters: a refused payload, published with its reason so nothing vanishes silently.

The letters of one ingest batch are published per reason as one MQTT message,
``{"v":1,"letters":[letter, ...]}`` on ``greeniot/v1/_dead/{reason}`` (at most
``LETTERS_PER_MESSAGE`` each): a flood of bad payloads then costs one publish per reason and
batch, not one per payload, so it cannot slow the good readings beside it.

A dead letter carries at most ``MAX_DEAD_PAYLOAD_BYTES`` of the original payload (a 256 KB
garbage payload must not become a 256 KB dead letter per message); ``payload_bytes`` gives the
full size and ``truncated`` says when the text is a prefix.

Encoded with msgspec (compact JSON, text as UTF-8): ~1.5 µs a letter against ~10 µs for
``json.dumps``, which a flood of refusals pays per letter.
"""

from __future__ import annotations

import base64

import msgspec

from greeniot.protocol.codec import Rejection
from greeniot.protocol.topics import dead_letter_topic

MAX_DEAD_PAYLOAD_BYTES = 1024
#: Letters in one dead-letter message (~1.3 KB each at most: under 1 MB per message).
LETTERS_PER_MESSAGE = 500


def bundle(letters: list[dict[str, object]]) -> list[tuple[str, bytes]]:
    """(topic, payload) messages carrying ``letters``, grouped by reason."""
    by_reason: dict[str, list[dict[str, object]]] = {}
    for letter in letters:
        by_reason.setdefault(str(letter["reason"]), []).append(letter)
    out = []
    encode = _ENCODER.encode
    for reason, items in by_reason.items():
        topic = dead_letter_topic(reason)
        for i in range(0, len(items), LETTERS_PER_MESSAGE):
            out.append((topic, encode({"v": 1, "letters": items[i:i + LETTERS_PER_MESSAGE]})))
    return out


_ENCODER = msgspec.json.Encoder()


def dead_letter(topic: str, payload: bytes, rejection: Rejection, received_ms: int,
                size: int | None = None) -> dict[str, object]:
    """The dead letter for one rejection of one MQTT message (``size``: the payload's full
    size when ``payload`` is only its first bytes)."""
    body: dict[str, object] = {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "topic": topic,
        "received_ms": received_ms,
    }
    if rejection.index is not None:
        body["index"] = rejection.index
    head = payload[:MAX_DEAD_PAYLOAD_BYTES]
    full = len(payload) if size is None else size
    if len(head) < full:
        body["payload_bytes"] = full
        body["truncated"] = True
    try:
        body["payload"] = head.decode()
    except UnicodeDecodeError as err:
        if len(head) < full and err.start >= len(head) - 3:
            body["payload"] = head[:err.start].decode()  # cut inside a multi-byte character
        else:
            body["payload"] = base64.b64encode(head).decode()
            body["encoding"] = "base64"
    return body
