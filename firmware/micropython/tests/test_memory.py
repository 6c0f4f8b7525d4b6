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


def test_two_minute_burst_through_outbox(tmp):
    gc.collect()
    burst = BurstSampler(_Flat(), 20.0, 2400, 200)  # config defaults burst_max, burst_chunk
    for i in range(burst.count):
        burst.pitch[i] = -12.345 + i * 0.001
        burst.roll[i] = 0.5
    ob = Outbox(tmp + "/ob", 500, 65536)
    for k in range(burst.chunks):
        start, stop = burst.span(k)
        payload = proto.tilt(k, 1795510737944 + k * 10000, 0.1, 0.2, stop - start, 20.0, 3.9,
                             (20.0, burst.pitch, burst.roll, start, stop))
        if len(payload) < 12 * (stop - start):
            raise AssertionError("payload only %d bytes" % len(payload))
        eq(ob.append("tilt", payload), True, "append")
        payload = None
        gc.collect()
    eq(len(ob), 12, "12 chunks of 200 samples")
    batches = 0
    while len(ob):
        first, _, items = ob.peek(50, 8192)
        parts = proto.batch_parts(items)
        size = sum(len(p) for p in parts)
        if not len(items) >= 2 or size > 8192 + 64:
            raise AssertionError("batch of %d items, %d bytes" % (len(items), size))
        ob.pop_through(first + len(items))
        batches += 1
        items = parts = None
        gc.collect()
    eq(batches, 6, "two ~3 kB chunks per 8 kB batch")
    free = gc.mem_free()
    if free < 16 * 1024:
        raise AssertionError("only %d bytes of heap left" % free)
