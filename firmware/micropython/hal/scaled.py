"""A node clock that runs N× real time, for the unix HAL (``cfg["time_scale"]``).

:func:`install` puts a scaled ``time`` and ``select`` into ``sys.modules`` before the node's
modules are imported, so the unchanged firmware (``time.ticks_ms()``, ``time.sleep_ms()``,
``poll(timeout_ms)``) lives on the scaled clock: a month of valve runs in minutes.
"""

import select
import sys
import time

from lib.store import read_json, write_json


class ScaledTime:
    """The ``time`` module of a node whose clocks run ``scale`` times faster than real time.

    UTC: ``start_ms + (real UTC - origin_ms) × scale``; ``ticks_*``: real ticks since boot ×
    scale (same period, so ``ticks_diff``/``ticks_add`` are the real ones); ``sleep*`` last
    1/scale of what they say. The rest is the real module. Installed as ``sys.modules["time"]``
    by :class:`UnixHal` before the node's modules are imported, so the firmware keeps calling
    ``time.ticks_ms()`` and sees the scaled clock (the ESP32 has no such thing: real time only).
    """

    def __init__(self, real, scale, origin_ms, start_ms):
        for name in dir(real):  # what this class does not redefine is the real module's
            if not name.startswith("_") and not hasattr(type(self), name):
                setattr(self, name, getattr(real, name))
        self._real = real
        self.scale = scale
        self.origin_ms = origin_ms
        self.start_ms = start_ms
        self._mask = real.ticks_add(0, -1)  # the ticks period - 1
        self._t0_us = real.ticks_us()
        self._origin_ns = origin_ms * 1_000_000

    def _since_boot_us(self):
        return self._real.ticks_diff(self._real.ticks_us(), self._t0_us) * self.scale

    def ticks_ms(self):
        return int(self._since_boot_us() / 1000) & self._mask

    def ticks_us(self):
        return int(self._since_boot_us()) & self._mask

    def time_ns(self):
        return self.start_ms * 1_000_000 + int((self._real.time_ns() - self._origin_ns)
                                               * self.scale)

    def time(self):
        return self.time_ns() / 1e9

    def gmtime(self, secs=None):
        return self._real.gmtime(int(self.time()) if secs is None else secs)

    def localtime(self, secs=None):
        return self._real.localtime(int(self.time()) if secs is None else secs)

    def sleep(self, s):
        self._real.sleep(s / self.scale)

    def sleep_ms(self, ms):
        self._real.sleep_us(int(ms * 1000 / self.scale))

    def sleep_us(self, us):
        self._real.sleep_us(int(us / self.scale))

    def real_ms(self, ms):
        """A wait of ``ms`` on the scaled clock, in real ms: -1 stays "for ever", 0 "now", and
        any other wait is at least 1 ms (the finest a poll can wait: a node's main loop turns
        at most once per real ms, i.e. its timers have a resolution of ``scale`` ms)."""
        if ms < 0:
            return -1
        if ms == 0:
            return 0
        return max(1, int(ms / self.scale + 0.5))


class _ScaledPoll:
    """``select.poll()`` whose timeouts are on the scaled clock."""

    def __init__(self, poller, clock):
        self._p = poller
        self._clock = clock

    def register(self, *args):
        return self._p.register(*args)

    def unregister(self, obj):
        return self._p.unregister(obj)

    def modify(self, obj, mask):
        return self._p.modify(obj, mask)

    def poll(self, timeout=-1):
        return self._p.poll(self._clock.real_ms(timeout))

    def ipoll(self, timeout=-1, flags=0):
        return self._p.ipoll(self._clock.real_ms(timeout), flags)


class ScaledSelect:
    """The ``select`` module with the timeouts of its polls on a :class:`ScaledTime` clock."""

    def __init__(self, real, clock):
        for name in dir(real):  # what this class does not redefine is the real module's
            if not name.startswith("_") and not hasattr(type(self), name):
                setattr(self, name, getattr(real, name))
        self._real = real
        self._clock = clock

    def poll(self):
        return _ScaledPoll(self._real.poll(), self._clock)


def scaled_clock(cfg):
    """The :class:`ScaledTime` of ``cfg``. Without ``time_origin_ms`` the
    scaled clock starts at the first boot, which ``<state_dir>/clock.json`` remembers, so a
    sensor woken from deep sleep goes on with the same clock."""
    scale = cfg["time_scale"]
    origin = cfg.get("time_origin_ms")
    start = cfg.get("time_start_ms")
    if origin is None:
        path = cfg["state_dir"] + "/clock.json"
        saved = read_json(path, None)
        if (isinstance(saved, dict) and saved.get("scale") == scale
                and (start is None or saved.get("start_ms") == start)):
            origin, start = saved["origin_ms"], saved["start_ms"]
        else:
            origin = time.time_ns() // 1_000_000
            write_json(path, {"scale": scale, "origin_ms": origin,
                              "start_ms": origin if start is None else start})
    return ScaledTime(time, scale, origin, origin if start is None else start)


def install(cfg):
    """The scaled clock of ``cfg``, installed as the ``time`` and ``select`` modules."""
    clock = scaled_clock(cfg)
    sys.modules["time"] = clock
    sys.modules["select"] = ScaledSelect(select, clock)
    return clock
