"""Checks beyond the schema that need the backend's clock. Pure: ``now_ms`` is passed in."""

from __future__ import annotations

from pydantic import BaseModel

from greeniot.protocol.codec import Rejection


def check_time(msg: BaseModel, now_ms: int, *, max_future_ms: int, max_age_ms: int,
               index: int | None = None) -> Rejection | None:
    """Refuse device timestamps too far ahead (clock not set / wrong) or too old to be useful.

    Readings buffered offline for days are fine: the window is ``max_age_ms`` (default 400 d).
    """
    ts = getattr(msg, "ts_ms", None)
    if ts is None:
        return None
    if ts > now_ms + max_future_ms:
        return Rejection("ts_future", f"ts_ms {ts} is {(ts - now_ms) / 1000:.0f} s ahead of the "
                         f"backend clock (allowed {max_future_ms / 1000:.0f} s)", index)
    if ts < now_ms - max_age_ms:
        return Rejection("ts_too_old", f"ts_ms {ts} is older than "
                         f"{max_age_ms / 86_400_000:.0f} days", index)
    return None
