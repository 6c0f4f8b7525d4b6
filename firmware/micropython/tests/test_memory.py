"""A long sway burst fits the ESP32-sized heap (run with ``-X heapsize=128k``) end to end:
burst arrays, chunked payload encoding, outbox append, and the flush's peek and batch parts."""

import gc

from check import eq

from drivers.tilt import BurstSampler
from lib import proto
from lib.outbox import Outbox


class _Flat:
    def read_raw_into(self, out):
        out[0], out[1], out[2] = -100, 50, 16384


def _burst_through_outbox(tmp, hz, count, chunks, batches_expected):
    gc.collect()
    burst = BurstSampler(_Flat(), hz, count, 200)
    for i in range(burst.count):
        burst.pitch[i] = -12.345 + i * 0.001
        burst.roll[i] = 0.5
    ob = Outbox(tmp + "/ob", 500, 65536)
    for k in range(burst.chunks):
        start, stop = burst.span(k)
        payload = proto.tilt(k, 1795510737944 + k * 10000, 0.1, 0.2, stop - start, 20.0, 3.9,
                             (hz, burst.pitch, burst.roll, start, stop))
        if len(payload) < 12 * (stop - start):
            raise AssertionError("payload only %d bytes" % len(payload))
        eq(ob.append("tilt", payload), True, "append")
        payload = None
        gc.collect()
    eq(len(ob), chunks, "%d chunks of 200 samples" % chunks)
    batches = 0
    while len(ob):
        first, _, items = ob.peek(50, 8192)
        parts = proto.batch_parts(items)
        size = sum(len(p) for p in parts)
        if not (len(items) >= 2 or len(ob) == 1) or size > 8192 + 64:
            raise AssertionError("batch of %d items, %d bytes" % (len(items), size))
        ob.pop_through(first + len(items))
        batches += 1
        items = parts = None
        gc.collect()
    eq(batches, batches_expected, "two ~3 kB chunks per 8 kB batch")
    free = gc.mem_free()
    if free < 16 * 1024:
        raise AssertionError("only %d bytes of heap left" % free)


def test_two_minute_burst_through_outbox(tmp):
    _burst_through_outbox(tmp, 20.0, 2400, 12, 6)


def test_five_minute_burst_at_10_hz_through_outbox(tmp):
    # config default burst_max: 300 s at 10 Hz, long enough for a 0.05-0.1 Hz tree
    _burst_through_outbox(tmp, 10.0, 3000, 15, 8)
