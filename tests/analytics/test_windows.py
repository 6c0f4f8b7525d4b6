"""Ring buffers: time order, redelivery, late samples, growth."""

from __future__ import annotations

import numpy as np
import pytest

from greeniot.analytics.core.windows import AppendStats, Windows


def chron(w: Windows, row: int) -> tuple[list[int], list[float]]:
    ts = w.chronological("ts_ms")[row]
    v = w.chronological("v")[row]
    keep = ts > 0
    return ts[keep].tolist(), v[keep].tolist()


def test_in_order_appends_wrap_around_in_time_order() -> None:
    w = Windows(("v",), 4)
    assert w.append([0, 0, 1], [10, 20, 5], {"v": [1, 2, 3]}) == AppendStats(3, 0, 0)
    w.append([0] * 3, [30, 40, 50], {"v": [3, 4, 5]})
    assert chron(w, 0) == ([20, 30, 40, 50], [2, 3, 4, 5])
    assert chron(w, 1) == ([5], [3])
    assert w.newest_ts_ms.tolist() == [50, 5]
    assert w.count().tolist() == [4, 1]
    assert w.tail("ts_ms", 2)[0].tolist() == [40, 50]


def test_redelivered_reading_replaces_and_never_counts_twice() -> None:
    w = Windows(("v",), 8)
    w.append([0, 0, 0], [10, 20, 30], {"v": [1, 2, 3]})
    stats = w.append([0, 0], [20, 30], {"v": [2, 3.5]})  # redelivery, one corrected value
    assert stats == AppendStats(0, 2, 0)
    assert chron(w, 0) == ([10, 20, 30], [1, 2, 3.5])
    # duplicates inside one batch: the last wins
    assert w.append([0, 0], [40, 40], {"v": [4, 4.5]}) == AppendStats(1, 0, 0)
    assert chron(w, 0) == ([10, 20, 30, 40], [1, 2, 3.5, 4.5])


def test_late_reading_is_merged_in_time_order() -> None:
    w = Windows(("v",), 4)
    w.append([0, 0, 0], [10, 30, 40], {"v": [1, 3, 4]})
    assert w.append([0], [20], {"v": [2]}) == AppendStats(1, 0, 0)
    assert chron(w, 0) == ([10, 20, 30, 40], [1, 2, 3, 4])
    # full row: a late reading older than all held is dropped, a newer late one evicts the oldest
    assert w.append([0], [5], {"v": [0.5]}) == AppendStats(0, 0, 1)
    assert w.append([0], [35], {"v": [3.5]}) == AppendStats(1, 0, 0)
    assert chron(w, 0) == ([20, 30, 35, 40], [2, 3, 3.5, 4])
    # ring appends continue correctly after a merge
    w.append([0], [50], {"v": [5]})
    assert chron(w, 0) == ([30, 35, 40, 50], [3, 3.5, 4, 5])


def test_more_than_a_window_at_once_keeps_the_newest() -> None:
    w = Windows(("v",), 4)
    stats = w.append(np.zeros(10, int), np.arange(1, 11) * 10, {"v": np.arange(10.0)})
    assert stats.appended == 4
    assert chron(w, 0) == ([70, 80, 90, 100], [6, 7, 8, 9])


def test_shuffled_batch_equals_ordered_batch() -> None:
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 50, 2000)
    ts = rng.integers(1, 10_000, 2000)
    vals = rng.normal(size=2000)
    a, b = Windows(("v",), 16), Windows(("v",), 16)
    order = np.lexsort((ts, rows))
    a.append(rows[order], ts[order], {"v": vals[order]})
    # b gets the same readings shuffled, in pieces, plus a full redelivery
    perm = rng.permutation(2000)
    for part in np.array_split(perm, 7):
        b.append(rows[part], ts[part], {"v": vals[part]})
    b.append(rows, ts, {"v": vals})
    np.testing.assert_array_equal(a.chronological("ts_ms"), b.chronological("ts_ms"))


def test_rows_grow_and_missing_fields_are_nan() -> None:
    w = Windows(("a", "b"), 4, rows=2)
    w.append([100], [1], {"a": [1.0]})
    assert w.n_rows == 101
    assert np.isnan(w.values("b")[100]).all()
    assert (w.ts_ms[:100] == 0).all()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"rows": [0], "ts_ms": [0], "values": {"v": [1]}}, "ts_ms must be > 0"),
    ({"rows": [0], "ts_ms": [1, 2], "values": {"v": [1]}}, "ts_ms has 2"),
    ({"rows": [0], "ts_ms": [1], "values": {"x": [1]}}, "unknown fields"),
    ({"rows": [0], "ts_ms": [1], "values": {"v": [1, 2]}}, r"values\['v'\]"),
])
def test_bad_batches_name_the_argument(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Windows(("v",), 4).append(**kwargs)


def _random_windows(rng: np.random.Generator) -> Windows:
    w = Windows(("a",), int(rng.integers(2, 20)))
    n = int(rng.integers(1, 30))
    for _ in range(int(rng.integers(1, 5))):  # in order, late and redelivered samples
        m = int(rng.integers(0, 60))
        w.append(rng.integers(0, n, m), rng.integers(1, 100, m), {"a": rng.random(m)})
    w.ensure_rows(n)
    return w


def test_tail_and_count_since_agree_with_a_plain_reading_of_the_ring() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        w = _random_windows(rng)
        n = w.n_rows
        for t in (1, 5, 50, 99, 100, 200):
            expect = (w.ts_ms >= t).sum(axis=1)
            np.testing.assert_array_equal(w.count_since(t), expect)
            np.testing.assert_array_equal(w.count_since(t, slice(1, 4)), expect[1:4])
            rows = np.array([n - 1, 0, n - 1], np.int64)
            for guess in (1, 2, 3, 16):  # the newest slots answer, or the binary search does
                np.testing.assert_array_equal(w.count_since(t, guess=guess), expect)
                np.testing.assert_array_equal(w.count_since(t, rows, guess=guess), expect[rows])
        for k in (1, 3, w.window, w.window + 5):
            for rows in (None, slice(1, 4), np.array([0, n - 1, 0], np.int64)):
                sub = slice(None) if rows is None else rows
                kk = min(k, w.window)
                idx = (w.head[sub][:, None] + np.arange(w.window - kk, w.window)) % w.window
                np.testing.assert_array_equal(w.tail_index(k, rows), idx)
                for name in ("ts_ms", "a"):
                    src = w.ts_ms if name == "ts_ms" else w.values(name)
                    np.testing.assert_array_equal(w.tail(name, k, rows),
                                                  np.take_along_axis(src[sub], idx, axis=1))


def test_stamp_marks_the_rows_each_append_wrote() -> None:
    w = Windows(("v",), 4)
    w.append([0, 2], [10, 10], {"v": [1, 2]})
    seen = w.writes
    w.append([2], [10], {"v": [3]})  # a redelivery rewrites the value: the row changed
    w.append([1], [20], {"v": [4]})
    assert np.flatnonzero(w.stamp > seen).tolist() == [1, 2]
    with pytest.raises(ValueError, match="t_ms must be > 0"):
        w.count_since(0)


def test_held_is_the_chronological_window_without_its_empty_head() -> None:
    rng = np.random.default_rng(9)
    for _ in range(100):
        w = _random_windows(rng)
        full, held = w.chronological("ts_ms"), w.held("ts_ms")
        assert held.shape[1] >= 1
        np.testing.assert_array_equal(full[:, : full.shape[1] - held.shape[1]], 0)
        np.testing.assert_array_equal(full[:, full.shape[1] - held.shape[1]:], held)
    assert Windows(("v",), 8, rows=3).held("v").shape == (3, 1)
