"""A bounded, persistent outbox of encoded readings on flash (survives deep sleep and resets).

Why: a node measures whether or not the broker is reachable, and every reading keeps the
``ts_ms`` and ``seq`` it was created with. Entries leave the outbox only after the broker's
PUBACK for the batch that carried them (``pop_through``), so a reset between publish and
acknowledgement resends rather than loses (at-least-once; the backend's storage overwrites a
duplicate by series and timestamp).

File layout (one file, append-only between compactions)::

    OBX1 <head offset, 10 digits> <dropped, 10 digits>\\n   (27-byte header)
    <channel> <json>\\n                                    (one line per entry)

Entries before ``head`` are consumed. The ring is bounded by entry count and by file size:
when full, the *oldest* entries are dropped and counted in ``dropped`` (persisted in the
header). The file is compacted (live entries copied to a new file, then an atomic rename) when
the consumed prefix gets large, so the file never grows past ``max_bytes``. A torn last line
(power lost mid-append) is discarded on load.
"""

import os

_MAGIC = b"OBX1 "
_HDR = 27


def _header(head, dropped):
    return b"OBX1 %010d %010d\n" % (head, dropped)


class Outbox:
    """Ring of ``(channel, payload)`` entries in ``path``.

    Each entry has a running id (``first_id`` .. ``first_id + len - 1``) valid for this boot,
    so a batch can be popped by id even if older entries were dropped while it was in flight.
    """

    def __init__(self, path, max_entries=500, max_bytes=65536):
        if max_bytes < 4 * _HDR:
            raise ValueError("outbox max_bytes too small")
        self.path = path
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.dropped = 0
        self.first_id = 0
        self._head = _HDR
        self._offs = []  # start offset of each live entry
        self._end = _HDR
        self._buf = bytearray(256)
        self._load()

    def __len__(self):
        return len(self._offs)

    @property
    def next_id(self):
        return self.first_id + len(self._offs)

    # -- persistence ------------------------------------------------------------------------
    def _load(self):
        try:
            f = open(self.path, "rb")
        except OSError:
            self._rewrite_empty()
            return
        torn = False
        with f:
            hdr = f.read(_HDR)
            if len(hdr) != _HDR or hdr[:5] != _MAGIC:
                torn = True
                head = _HDR
            else:
                head = int(hdr[5:15])
                self.dropped = int(hdr[16:26])
            self._head = head
            f.seek(head)
            pos = head
            start = head
            buf = self._buf
            while not torn:
                n = f.readinto(buf)
                if not n:
                    break
                i = 0
                while True:
                    j = buf.find(b"\n", i, n) if i < n else -1
                    if j < 0:
                        break
                    self._offs.append(start)
                    start = pos + j + 1
                    i = j + 1
                pos += n
            self._end = start
            if pos != start:
                torn = True  # bytes after the last newline: an interrupted append
        if torn:
            self._compact()

    def _write_header(self):
        with open(self.path, "r+b") as f:
            f.seek(0)
            f.write(_header(self._head, self.dropped))

    def _rewrite_empty(self):
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(_header(_HDR, self.dropped))
        os.rename(tmp, self.path)
        self._head = self._end = _HDR
        self._offs = []

    def _compact(self):
        """Copy the live entries to a fresh file and swap it in atomically."""
        if not self._offs:
            self._rewrite_empty()
            return
        tmp = self.path + ".tmp"
        start = self._offs[0]
        shift = start - _HDR
        buf = self._buf
        with open(self.path, "rb") as src, open(tmp, "wb") as dst:
            dst.write(_header(_HDR, self.dropped))
            src.seek(start)
            left = self._end - start
            mv = memoryview(buf)
            while left > 0:
                n = src.readinto(mv[: min(left, len(buf))])
                if not n:
                    break
                dst.write(mv[:n])
                left -= n
        os.rename(tmp, self.path)
        self._offs = [o - shift for o in self._offs]
        self._head = _HDR
        self._end -= shift

    # -- ring operations --------------------------------------------------------------------
    def append(self, channel, payload):
        """Store one entry; drop the oldest when full. Returns False if it can never fit."""
        need = len(channel) + 1 + len(payload) + 1
        room = self.max_bytes - _HDR
        if need > room:
            self.dropped += 1
            self._write_header()
            return False
        dropped_now = 0
        while self._offs and (len(self._offs) >= self.max_entries
                              or self._end - self._offs[0] + need > room):
            self._offs.pop(0)
            self.first_id += 1
            dropped_now += 1
        if dropped_now:
            self.dropped += dropped_now
            self._head = self._offs[0] if self._offs else self._end
        if self._end + need > self.max_bytes:
            self._compact()
        elif dropped_now:
            self._write_header()
        with open(self.path, "ab") as f:
            f.write(channel.encode() if isinstance(channel, str) else channel)
            f.write(b" ")
            f.write(payload)
            f.write(b"\n")
        self._offs.append(self._end)
        self._end += need
        return True

    def peek(self, max_n, max_bytes):
        """The oldest run of same-channel entries: ``(first_id, channel, [payload, ...])``.

        At most ``max_n`` entries and about ``max_bytes`` of payload, but always at least one
        entry (a single large burst reading still goes out). Returns None when empty.
        """
        if not self._offs:
            return None
        items = []
        channel = None
        total = 0
        count = len(self._offs)
        with open(self.path, "rb") as f:
            f.seek(self._offs[0])
            for i in range(min(max_n, count)):
                end = self._offs[i + 1] if i + 1 < count else self._end
                size = end - self._offs[i]
                if items and total + size > max_bytes:
                    break
                line = f.read(size)
                sp = line.find(b" ")
                ch = line[:sp].decode()
                if channel is None:
                    channel = ch
                elif ch != channel:
                    break
                items.append(line[sp + 1:-1])
                total += size
        return self.first_id, channel, items

    def pop_through(self, end_id):
        """Remove every entry whose id is below ``end_id`` (its batch was acknowledged)."""
        n = 0
        while self._offs and self.first_id < end_id:
            self._offs.pop(0)
            self.first_id += 1
            n += 1
        if not n:
            return 0
        if not self._offs:
            self._rewrite_empty()
        else:
            self._head = self._offs[0]
            if self._head - _HDR > self.max_bytes // 2:
                self._compact()
            else:
                self._write_header()
        return n
