"""Analytics shards: several analytics processes, each owning a set of sites.

Ownership is rendezvous (highest-random-weight) hashing of the site id over the live shards:
every shard computes the same owner for a site from the same member list, without a
coordinator, and when a shard joins or leaves only the sites it gains or loses move (Thaler &
Ravishankar, "Using name-based mappings to increase hit rates", IEEE/ACM Trans. Networking
6(1), 1998, doi:10.1109/90.663936). Liveness travels on the broker: each shard keeps a retained
``online`` on ``greeniot/v1/_analytics/{member}`` with a last will that the broker turns into
``offline`` when the shard dies; a clean stop publishes ``offline`` itself. The topic has four
levels, so device filters (five levels) never match it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from greeniot.protocol.topics import ROOT

MEMBERS_PREFIX = f"{ROOT}/_analytics/"
MEMBERS_FILTER = f"{MEMBERS_PREFIX}+"
ONLINE = b"online"
OFFLINE = b"offline"


def member_topic(member: str) -> str:
    return f"{MEMBERS_PREFIX}{member}"


def _weight(member: str, site: str) -> bytes:
    return hashlib.blake2b(f"{member}\x00{site}".encode(), digest_size=8).digest()


def owner(site: str, members: Iterable[str]) -> str | None:
    """The member that owns ``site``: the one with the highest hash weight (None if none)."""
    best: tuple[bytes, str] | None = None
    for m in members:
        w = (_weight(m, site), m)
        if best is None or w > best:
            best = w
    return best[1] if best else None


class ShardMap:
    """The live members as this shard sees them, and which sites it owns."""

    def __init__(self, me: str) -> None:
        if not me:
            raise ValueError("a shard needs a member name (GREENIOT_ANALYTICS__SHARD)")
        self.me = me
        self.members: set[str] = {me}
        self._owns: dict[str, bool] = {}

    def observe(self, topic: str, payload: bytes) -> bool:
        """A membership message; True when the member set changed."""
        member = topic[len(MEMBERS_PREFIX):]
        if not member or "/" in member or member == self.me:
            return False  # our own retained state never removes us
        before = set(self.members)
        if payload.strip() == ONLINE:
            self.members.add(member)
        else:
            self.members.discard(member)
        if self.members != before:
            self._owns.clear()
            return True
        return False

    def owns(self, site: str) -> bool:
        got = self._owns.get(site)
        if got is None:
            got = self._owns[site] = owner(site, self.members) == self.me
        return got

    def owned(self, sites: Iterable[str]) -> list[str]:
        return sorted(s for s in set(sites) if self.owns(s))
