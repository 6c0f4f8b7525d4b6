"""Small persistent state on flash: atomic JSON files and the per-device sequence counter.

Atomic = write ``<path>.tmp`` then ``os.rename`` over the old file, so a reset mid-write leaves
either the old or the new content, never a torn file (LittleFS and POSIX both rename
atomically).
"""

import json
import os


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def makedirs(path):
    """``os.makedirs(exist_ok=True)`` for MicroPython, which has only ``mkdir``."""
    cur = ""
    for part in path.split("/"):
        cur = cur + "/" + part if cur or path.startswith("/") else part
        if not part:
            continue
        try:
            os.mkdir(cur)
        except OSError:
            pass


class Seq:
    """The device's ``seq``: incremented for every reading and ack, persisted at each step.

    Persisting every value (not blocks) keeps ``seq`` consecutive across deep sleep, which is
    what lets the backend count a node's readings exactly. Wraps at 2**32 as the protocol says.
    """

    def __init__(self, path):
        self.path = path
        self.value = -1  # last value handed out
        try:
            with open(path) as f:
                self.value = int(f.read().strip())
        except (OSError, ValueError):
            pass

    def next(self):
        self.value = (self.value + 1) % (1 << 32)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(self.value))
        os.rename(tmp, self.path)
        return self.value
