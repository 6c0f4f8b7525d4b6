"""One message a simulated device sends: topic parts, encoded payload, retain flag."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from greeniot.protocol import device_topic, encode
from greeniot.protocol.channels import channel_of
from greeniot.protocol.codec import encode_batch


@dataclass(frozen=True, slots=True)
class Outgoing:
    site: str
    device: str
    channel: str
    payload: bytes
    ts_ms: int  # device time of the (first) message, for ordering
    retain: bool = False
    seqs: tuple[int, ...] = ()  # sequence numbers carried (a batch carries several)

    @property
    def topic(self) -> str:
        return device_topic(self.site, self.device, self.channel)

    @classmethod
    def of(cls, site: str, device: str, msg: BaseModel, *, retain: bool = False) -> Outgoing:
        """Encode one protocol model (its class names the channel)."""
        seq = getattr(msg, "seq", None)
        ts = getattr(msg, "ts_ms", None)
        channel = channel_of(msg).name
        return cls(site, device, channel, encode(msg), int(ts or 0), retain,
                   () if seq is None else (int(seq),))

    @classmethod
    def batch(cls, site: str, device: str, msgs: list[BaseModel]) -> Outgoing:
        """Encode several readings of one device as a ``{"v":1,"batch":[...]}`` payload."""
        if not msgs:
            raise ValueError("batch: msgs must not be empty")
        channel = channel_of(msgs[0]).name
        return cls(site, device, channel, encode_batch(msgs),
                   int(msgs[0].ts_ms), False,  # type: ignore[attr-defined]
                   tuple(int(m.seq) for m in msgs))  # type: ignore[attr-defined]
