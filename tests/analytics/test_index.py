"""Device index: stable rows in order of first appearance, bulk lookups."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.core.index import DeviceIndex, unique_pairs


def test_rows_in_order_of_first_appearance_and_stable() -> None:
    idx = DeviceIndex()
    assert idx.row("a", "d1") == 0
    assert idx.row("b", "d1") == 1  # same device id at another site is another row
    assert idx.row("a", "d1") == 0
    assert idx.get("a", "d2") is None
    assert len(idx) == 2
    assert idx.key(1) == ("b", "d1")
    assert ("a", "d1") in idx


def test_bulk_rows_one_site_and_per_reading_sites() -> None:
    idx = DeviceIndex([("a", "x")])
    rows = idx.rows("a", ["y", "x", "y", "z"])
    assert rows.tolist() == [1, 0, 1, 2]
    rows = idx.rows(np.array(["b", "a", "b"]), np.array(["x", "x", "x"]))
    assert rows.tolist() == [3, 0, 3]
    assert idx.site_codes().tolist() == [0, 0, 0, 1]
    assert idx.sites() == ["a", "b"]
    assert idx.site_code("b") == 1


def test_bulk_rows_shape_mismatch_names_argument() -> None:
    with pytest.raises(ValueError, match="site has shape"):
        DeviceIndex().rows(np.array(["a", "b"]), np.array(["x"]))


def test_unique_pairs_registers_devices_as_a_per_reading_lookup_does() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        sites = np.array([f"s{i}" for i in rng.integers(0, 5, 200)], dtype=object)
        keys = np.array([f"d{i}" for i in rng.integers(0, 30, 200)], dtype=object)
        u_sites, u_keys, inverse = unique_pairs(sites, keys)
        assert (u_sites[inverse] == sites).all() and (u_keys[inverse] == keys).all()
        a, b = DeviceIndex(), DeviceIndex()
        rows = a.rows(list(sites), list(keys))
        np.testing.assert_array_equal(b.rows(list(u_sites), list(u_keys))[inverse], rows)
        assert a.keys() == b.keys()
        s_arr, k_arr = a.key_arrays()
        assert list(zip(s_arr.tolist(), k_arr.tolist(), strict=True)) == a.keys()
