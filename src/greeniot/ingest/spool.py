"""Disk write-ahead log between the MQTT consumer and the InfluxDB writer.

A message is acknowledged to the broker only after its lines are appended here and fsynced; the
writer commits a cursor after InfluxDB took them. A crash anywhere replays from the cursor, and
InfluxDB's (series, timestamp) identity makes the replay overwrite rather than duplicate.
Segments are plain line-protocol files, so an operator can inspect or replay them by hand.

One process at a time owns a spool: it holds an exclusive ``flock`` on ``lock`` in the spool
directory, which the kernel releases when the process dies (even by SIGKILL). So a live
sibling worker can tell a dead worker's spool from a running one and drain it
(:mod:`greeniot.ingest.orphans`), and two workers started with the same id cannot interleave.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".lp"
LOCK_NAME = "lock"


class SpoolBusyError(RuntimeError):
    """Another live process owns the spool."""


def _lock(directory: Path, wait_s: float) -> int:
    """An exclusive flock on ``directory/lock`` (waiting up to ``wait_s``); the open fd. The
    file holds the owner's pid, for the message of whoever waits."""
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    warned = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            what = (f"spool {directory} is owned by live process {owner} (a sibling worker "
                    "draining it, or a second ingest with the same --worker)")
            if time.monotonic() >= deadline:
                os.close(fd)
                raise SpoolBusyError(what) from None
            if not warned and wait_s > 1:
                log.warning("%s; waiting up to %.0f s", what, wait_s)
                warned = True
            time.sleep(0.1)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return fd


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines read from the spool; ``commit(chunk)`` once they are stored."""

    data: bytes
    lines: int
    segment: int
    end: int  # offset in ``segment`` just past the chunk


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int = 16 * 1024 * 1024,
                 lock_wait_s: float = 60.0) -> None:
        """``lock_wait_s``: how long to wait for a sibling that is draining this spool
        (:class:`SpoolBusyError` after that; 0: do not wait)."""
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.dir, lock_wait_s)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._cursor_path = self.dir / "cursor.json"
        self._cursor = self._load_cursor()
        segs = self._segments()
        self._current = segs[-1] if segs else max(self._cursor[0], 1)
        self._durable = self._repair_tail(self._current)
        self._fh = open(self._path(self._current), "ab")  # noqa: SIM115 - long-lived
        if not segs or self._cursor[0] < segs[0]:
            self._cursor = (segs[0] if segs else self._current, 0)
        self._dropped_below = -1  # commit() removed the segments before this one

    # -- layout -------------------------------------------------------------------------------
    def _path(self, seg: int) -> Path:
        return self.dir / f"{seg:012d}{SEGMENT_SUFFIX}"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob(f"*{SEGMENT_SUFFIX}") if p.stem.isdigit())

    def _load_cursor(self) -> tuple[int, int]:
        try:
            raw = json.loads(self._cursor_path.read_text())
            return int(raw["segment"]), int(raw["offset"])
        except (OSError, ValueError, KeyError):
            return (0, 0)

    def _repair_tail(self, seg: int) -> int:
        """Cut a torn last line (a crash mid-append): those messages were never acked."""
        path = self._path(seg)
        if not path.exists():
            return 0
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            with open(path, "r+b") as fh:
                fh.truncate(keep)
        return keep

    # -- writer side (consumer) ---------------------------------------------------------------
    def append(self, lines: list[str]) -> None:
        """Append and fsync. Blocking: call from a worker thread in async code."""
        if not lines:
            return
        data = "\n".join(lines).encode()
        with self._lock:
            if self._durable and self._durable + len(data) + 1 > self.segment_bytes:
                self._fh.close()
                self._current += 1
                self._fh = open(self._path(self._current), "ab")  # noqa: SIM115
                self._durable = 0
            self._fh.write(data)
            self._fh.write(b"\n")  # not data + b"\n": a copy of the whole batch
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._durable += len(data) + 1

    # -- reader side (InfluxDB writer) ---------------------------------------------------------
    def read(self, max_lines: int, max_bytes: int = 4 * 1024 * 1024, *,
             after: Chunk | None = None) -> Chunk | None:
        """Up to ``max_lines`` whole lines from the cursor (or from the end of ``after``, a
        chunk read before and not yet committed), within one segment."""
        with self._lock:
            seg, off = self._cursor if after is None else (after.segment, after.end)
            current, durable = self._current, self._durable
        while True:
            end = durable if seg == current else self._path(seg).stat().st_size
            if off < end:
                break
            if seg >= current:
                return None
            seg, off = seg + 1, 0  # finished segment: move on (deleted at commit)
        # Lines are ~100-200 bytes: read what max_lines may need, not all of max_bytes.
        want = min(end - off, max_bytes, max_lines * 256)
        with open(self._path(seg), "rb") as fh:
            fh.seek(off)
            data = fh.read(want)
        # Cut to whole lines, and to max_lines.
        cut = data.rfind(b"\n") + 1
        if cut == 0 and want < end - off and want < max_bytes:  # one very long line
            with open(self._path(seg), "rb") as fh:
                fh.seek(off)
                data = fh.read(min(end - off, max_bytes))
            cut = data.rfind(b"\n") + 1
        n = data.count(b"\n", 0, cut)
        while n > max_lines:  # cut where max_lines lines of the average length would end
            cut = data.rfind(b"\n", 0, max(1, cut * max_lines // n)) + 1
            if cut == 0:  # the first line alone is longer than that average
                cut = data.find(b"\n") + 1
            n = data.count(b"\n", 0, cut)
        data = data[:cut]
        return Chunk(data, n, seg, off + len(data))

    def commit(self, chunk: Chunk) -> None:
        """Mark everything up to the chunk's end as stored; drop finished segments."""
        with self._lock:
            self._cursor = (chunk.segment, chunk.end)
            current = self._current
        tmp = self._cursor_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"segment": chunk.segment, "offset": chunk.end}))
        os.replace(tmp, self._cursor_path)
        if chunk.segment != self._dropped_below:  # list the folder only when a segment ends
            for seg in self._segments():
                if seg < chunk.segment and seg < current:
                    self._path(seg).unlink(missing_ok=True)
            self._dropped_below = chunk.segment

    def pending_bytes(self) -> int:
        with self._lock:
            seg, off = self._cursor
            current, durable = self._current, self._durable
        total = 0
        for s in self._segments():
            if s < seg:
                continue
            size = durable if s == current else self._path(s).stat().st_size
            total += size - (off if s == seg else 0)
        return max(total, 0)

    def close(self) -> None:
        with self._lock:
            self._fh.close()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = -1
