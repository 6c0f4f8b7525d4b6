"""The flash outbox: ring bounds, order, ids, persistence across restarts, torn writes."""

import os

from check import eq

from lib.outbox import Outbox


def _r(i):
    return b'{"v":1,"seq":%d,"ts_ms":%d}' % (i, 1795510737000 + i)


def _all(ob):
    got = ob.peek(10000, 1 << 30)
    return [] if got is None else got[2]


def test_append_peek_pop_by_id(tmp):
    ob = Outbox(tmp + "/ob", 10, 4096)
    eq(ob.peek(5, 1000), None, "empty")
    for i in range(4):
        ob.append("soil", _r(i))
    first, ch, items = ob.peek(3, 10000)
    eq((first, ch, items), (0, "soil", [_r(0), _r(1), _r(2)]), "oldest three")
    eq(ob.pop_through(first + len(items)), 3, "popped")
    eq(_all(ob), [_r(3)], "one left")
    eq(ob.pop_through(2), 0, "already gone")


def test_bounded_by_count_drops_oldest_and_counts(tmp):
    ob = Outbox(tmp + "/ob", 3, 4096)
    for i in range(5):
        ob.append("soil", _r(i))
    eq(len(ob), 3, "len")
    eq(ob.dropped, 2, "dropped")
    eq(_all(ob), [_r(2), _r(3), _r(4)], "newest kept in order")
    eq(ob.first_id, 2, "ids keep counting")


def test_bounded_by_bytes_file_never_exceeds(tmp):
    path = tmp + "/ob"
    ob = Outbox(path, 1000, 512)
    for i in range(200):
        ob.append("soil", _r(i))
        size = os.stat(path)[6]
        if size > 512:
            raise AssertionError("outbox file %d bytes > 512 after %d appends" % (size, i))
    items = _all(ob)
    eq(items[-1], _r(199), "newest kept")
    eq(ob.dropped + len(ob), 200, "every entry kept or counted")
    eq(ob.append("soil", b"x" * 600), False, "an entry that can never fit is refused")
    eq(ob.dropped + len(ob), 201, "and counted")


def test_survives_restart_with_dropped_counter(tmp):
    path = tmp + "/ob"
    ob = Outbox(path, 4, 4096)
    for i in range(6):
        ob.append("tilt", _r(i))
    ob.pop_through(ob.first_id + 1)
    ob2 = Outbox(path, 4, 4096)
    eq(_all(ob2), [_r(3), _r(4), _r(5)], "entries after restart")
    eq(ob2.dropped, 2, "dropped persisted")
    ob2.append("tilt", _r(6))
    eq(_all(Outbox(path, 4, 4096)), [_r(3), _r(4), _r(5), _r(6)], "append after restart")


def test_torn_last_line_is_discarded(tmp):
    path = tmp + "/ob"
    ob = Outbox(path, 10, 4096)
    ob.append("soil", _r(0))
    ob.append("soil", _r(1))
    with open(path, "ab") as f:
        f.write(b'soil {"v":1,"seq":2,"ts')  # power lost mid-append
    ob2 = Outbox(path, 10, 4096)
    eq(_all(ob2), [_r(0), _r(1)], "complete entries kept")
    ob2.append("soil", _r(3))
    eq(_all(Outbox(path, 10, 4096)), [_r(0), _r(1), _r(3)], "appends land after a clean line")


def test_peek_groups_one_channel_and_respects_limits(tmp):
    ob = Outbox(tmp + "/ob", 10, 4096)
    ob.append("valve", b"v0")
    ob.append("valve", b"v1")
    ob.append("soil", b"s0")
    eq(ob.peek(10, 10000), (0, "valve", [b"v0", b"v1"]), "stops at channel change")
    eq(ob.peek(1, 10000), (0, "valve", [b"v0"]), "max_n")
    eq(ob.peek(10, 1), (0, "valve", [b"v0"]), "at least one even over max_bytes")


def test_pop_of_inflight_batch_after_drops(tmp):
    ob = Outbox(tmp + "/ob", 3, 4096)
    for i in range(3):
        ob.append("soil", _r(i))
    first, _, items = ob.peek(2, 10000)  # batch of ids 0,1 in flight
    ob.append("soil", _r(3))  # full: drops id 0 while the batch is in flight
    ob.pop_through(first + len(items))  # the ack removes what is left of the batch (id 1)
    eq(_all(ob), [_r(2), _r(3)], "only newer entries remain")


def test_compaction_keeps_entries(tmp):
    path = tmp + "/ob"
    ob = Outbox(path, 1000, 1024)
    for rnd in range(6):
        for i in range(10):
            ob.append("soil", _r(rnd * 10 + i))
        ob.pop_through(ob.first_id + 8)
    eq(ob.dropped, 0, "nothing dropped")
    want = [_r(i) for i in range(48, 60)]  # FIFO: 60 appended, the oldest 48 acknowledged
    eq(_all(ob), want, "the unacknowledged entries, in order")
    eq(_all(Outbox(path, 1000, 1024)), want, "same after restart")
    eq(os.stat(path)[6] <= 1024, True, "bounded")
