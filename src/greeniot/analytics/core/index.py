"""(site, key) ↔ row number: the rows of every devices × samples array.

Rows are handed out in order of first appearance and never reused, so an array indexed by row
only ever grows. Keys are ``(site, device)`` for devices, ``(site, zone)`` for zones, or
``(site, "")`` for sites.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray


def unique_pairs(sites: np.ndarray, keys: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, NDArray[np.int64]]:
    """The distinct ``(site, key)`` pairs of two equal-length arrays, in ``(site, key)`` order
    (the order :meth:`DeviceIndex.rows` registers new keys in), and each entry's pair number.

    Hash-based (``pandas.factorize``), O(n): a warm start's millions of readings from thousands
    of devices are looked up once per device, not sorted as strings.
    """
    if sites.shape != keys.shape:
        raise ValueError(f"sites has shape {sites.shape}, keys has {keys.shape}")
    cs, us = pd.factorize(sites.ravel(), sort=False)
    ck, uk = pd.factorize(keys.ravel(), sort=False)
    code, first = pd.factorize(cs.astype(np.int64) * max(len(uk), 1) + ck, sort=False)
    pair_s = np.asarray(us, dtype=object)[first // max(len(uk), 1)]
    pair_k = np.asarray(uk, dtype=object)[first % max(len(uk), 1)]
    order = sorted(range(len(first)), key=lambda i: (pair_s[i], pair_k[i]))
    rank = np.empty(len(first), np.int64)
    rank[order] = np.arange(len(first))
    return pair_s[order], pair_k[order], rank[code]


class DeviceIndex:
    """Grows as new keys appear; looks up many keys at once for batch ingest."""

    __slots__ = ("_arrays", "_keys", "_rows", "_site_codes", "_sites")

    def __init__(self, keys: Iterable[tuple[str, str]] = ()) -> None:
        self._rows: dict[tuple[str, str], int] = {}
        self._keys: list[tuple[str, str]] = []
        self._sites: dict[str, int] = {}
        self._site_codes: list[int] = []
        self._arrays: tuple[np.ndarray, np.ndarray] = (np.zeros(0, object), np.zeros(0, object))
        for site, key in keys:
            self.row(site, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def row(self, site: str, key: str) -> int:
        """The row of ``(site, key)``, adding it if new."""
        k = (site, key)
        r = self._rows.get(k)
        if r is None:
            r = len(self._keys)
            self._rows[k] = r
            self._keys.append(k)
            self._site_codes.append(self._sites.setdefault(site, len(self._sites)))
        return r

    def get(self, site: str, key: str) -> int | None:
        """The row of ``(site, key)``, or None if never seen."""
        return self._rows.get((site, key))

    def rows(self, site: str | Sequence[str], keys: Sequence[str] | NDArray[np.str_]
             ) -> NDArray[np.int64]:
        """Rows of many keys at once (adding new ones); ``site`` is one site or one per key.

        Looks up each distinct key once, so a batch of 100k readings from 1k devices costs 1k
        dictionary lookups plus one ``np.unique``.
        """
        keys_arr = np.asarray(keys, dtype=str)
        if isinstance(site, str):
            uniq, inverse = np.unique(keys_arr, return_inverse=True)
            found = np.fromiter((self.row(site, str(k)) for k in uniq), np.int64, uniq.size)
            return found[inverse.ravel()]
        sites_arr = np.asarray(site, dtype=str)
        if sites_arr.shape != keys_arr.shape:
            raise ValueError(f"site has shape {sites_arr.shape}, keys has {keys_arr.shape}")
        pairs = np.char.add(np.char.add(sites_arr, "\x00"), keys_arr)
        uniq, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
        found = np.fromiter(
            (self.row(str(sites_arr[i]), str(keys_arr[i])) for i in first), np.int64, uniq.size
        )
        return found[inverse.ravel()]

    def key(self, row: int) -> tuple[str, str]:
        """``(site, key)`` of a row."""
        return self._keys[row]

    def key_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sites, keys)`` as object arrays in row order, extended only by the rows added
        since the last call (a per-tick state needs them without a Python loop over rows).
        Read-only: copy before changing them."""
        sites, keys = self._arrays
        n = len(self._keys)
        if sites.size < n:
            new = self._keys[sites.size:]
            sites = np.concatenate([sites, np.array([k[0] for k in new], dtype=object)])
            keys = np.concatenate([keys, np.array([k[1] for k in new], dtype=object)])
            sites.flags.writeable = keys.flags.writeable = False
            self._arrays = (sites, keys)
        return sites, keys

    def keys(self) -> list[tuple[str, str]]:
        """All keys in row order."""
        return list(self._keys)

    def site_codes(self) -> NDArray[np.int64]:
        """Per row, the code of its site (codes count sites in order of first appearance)."""
        return np.asarray(self._site_codes, dtype=np.int64)

    def site_code(self, site: str) -> int | None:
        """The code of a site, or None if no row belongs to it."""
        return self._sites.get(site)

    def sites(self) -> list[str]:
        """Site names in code order."""
        return list(self._sites)
