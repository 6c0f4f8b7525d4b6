"""Signed webhooks: HMAC-SHA256 over timestamp and body, with a replay window.

Each request is a POST of JSON ``{"v": 1, "digest": bool, "items": [notification, ...]}``
with the headers

- ``X-Greeniot-Timestamp``: seconds since the Unix epoch when it was signed;
- ``X-Greeniot-Signature``: ``v1=`` + hex HMAC-SHA256(secret, ``"{timestamp}." + body``);
- ``X-Greeniot-Delivery``: the delivery ids it carries (for the receiver's de-duplication).

The scheme follows the signed-webhook pattern of Stripe and the Standard Webhooks
specification (https://www.standardwebhooks.com/): signing the timestamp with the body lets a
receiver refuse a captured request replayed later (:func:`verify`, ``tolerance_s``).
Answers: 2xx delivered; 408, 429 and 5xx, timeouts and connection errors are retried; any
other 4xx is permanent (the receiver refuses the request as it is).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence

import httpx

from greeniot.actions.sinks.notification import DeliveryError, Notification
from greeniot.registry.crud.deliveries import Recipient

TIMESTAMP_HEADER = "X-Greeniot-Timestamp"
SIGNATURE_HEADER = "X-Greeniot-Signature"
DELIVERY_HEADER = "X-Greeniot-Delivery"
#: How far a request's timestamp may be from the receiver's clock [s] (Stripe's default).
DEFAULT_TOLERANCE_S = 300
_RETRY_STATUS = frozenset({408, 429})


class SignatureError(ValueError):
    """A webhook request whose signature or timestamp does not hold; the message says which."""


def sign(secret: str, timestamp_s: int, body: bytes) -> str:
    """The ``X-Greeniot-Signature`` value for ``body`` signed at ``timestamp_s``."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, now_s: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if now_s is None else now_s
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body),
            "Content-Type": "application/json"}


def verify(secret: str, body: bytes, headers: Mapping[str, str], *,
           now_s: float | None = None, tolerance_s: float = DEFAULT_TOLERANCE_S) -> int:
    """Check a received request; return its timestamp [s] or raise :class:`SignatureError`.

    ``headers`` are matched case-insensitively. Use the raw body bytes as received.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ts = lower.get(TIMESTAMP_HEADER.lower())
    given = lower.get(SIGNATURE_HEADER.lower())
    if raw_ts is None or given is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        ts = int(raw_ts)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not an integer: {raw_ts[:32]!r}") from None
    now = time.time() if now_s is None else now_s
    if abs(now - ts) > tolerance_s:
        raise SignatureError(f"timestamp {ts} is {now - ts:+.0f} s from now, outside the "
                             f"replay window of {tolerance_s:g} s")
    expected = sign(secret, ts, body)
    # A header may carry several signatures (key rotation): any one that matches will do.
    if not any(hmac.compare_digest(expected, part.strip()) for part in given.split(",")):
        raise SignatureError("signature does not match the body and timestamp")
    return ts


def encode_items(items: Sequence[Notification]) -> bytes:
    return json.dumps({"v": 1, "digest": len(items) > 1,
                       "items": [n.to_json() for n in items]},
                      separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSink:
    """POSTs signed notifications to the recipient's URL (its ``secret`` signs them)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def deliver(self, recipient: Recipient, items: Sequence[Notification],
                      delivery_ids: Sequence[int] = ()) -> None:
        if not recipient.secret:
            raise DeliveryError(f"webhook {recipient.key} has no secret", permanent=True)
        body = encode_items(items)
        headers = signed_headers(recipient.secret, body)
        if delivery_ids:
            headers[DELIVERY_HEADER] = ",".join(str(i) for i in delivery_ids)
        try:
            answer = await self._client.post(recipient.target, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise DeliveryError(f"webhook {_where(recipient.target)}: {type(err).__name__}: "
                                f"{err}") from err
        if answer.is_success:
            return
        permanent = 400 <= answer.status_code < 500 and answer.status_code not in _RETRY_STATUS
        raise DeliveryError(f"webhook {_where(recipient.target)} answered "
                            f"{answer.status_code}: {answer.text[:200]}", permanent=permanent)


def _where(url: str) -> str:
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}:{parts.port or ''}{parts.path}"
