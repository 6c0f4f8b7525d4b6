"""Event time: analytics and actions run on the devices' timestamps, so replaying a recorded
storm at 100x, or a gateway flushing hours of backlog, raises the same tasks as living
through it — and one device with a wrong clock cannot move anyone else's time.

Two parts:

- :class:`DeviceClocks` judges every reading's timestamp against its receive time, per device:
  ahead of it by more than the ingest bound, older than the ingest maximum age (a clock reset to
  2000-01-01), stepping back against the device's own sequence, or lagging it by more than the
  bound on readings received over a long span (a backlog arrives within seconds, a slow clock
  lags for ever). Such a device has a ``clock`` fault and its readings are re-stamped with their
  receive time until ``recover_readings`` good ones in a row show its clock is right again.
- :class:`SiteClock` is a site's "now": the **median** of its devices' newest timestamps (after
  the judgement above), so a minority of wrong clocks — or of devices that lag behind — cannot
  move it. A site silent for ``idle_s`` of wall time (its gateway died) goes on with wall time
  from there, so its devices do turn offline. A site clock never goes backwards.
- Until ``idle_s`` of wall time after a site's first message, the devices the registry lists
  there but not yet heard from count in that median as "not started": two live nodes heard a
  second before a gateway flushes the other fourteen devices' backlog must not set the site's
  time to now (which would judge the whole backlog as late, in one pass). Devices still silent
  after ``idle_s`` are left out (never installed, or dead: health says so).
- Only the devices the registry lists at a site vote in that median (once one of them is
  heard): devices it does not list, however many, cannot move the site's time.

The median assumes what a gateway and our firmware do: a backlog is sent in time order. A
device whose readings arrive after the site has passed their time is late; its readings are
still taken, at the next detector pass.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from greeniot.protocol.messages import TS_MIN_MS

#: How far past 2000-01-01 a timestamp still reads as a clock reset (a node's RTC restarts at
#: the epoch of its SDK and counts its uptime from there) [ms].
RESET_SPAN_MS = 366 * 86_400_000
SEQ_MOD = 1 << 32


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the clock check made of one reading."""

    ts_ms: int  # the time to judge it by: its own, or its receive time
    fault: str | None  # what is wrong with the device's clock (None: nothing, or recovered)
    changed: bool  # the device's clock state changed with this reading


@dataclass(slots=True)
class _Device:
    raw_ts: int = 0  # the device's own newest timestamp
    seq: int | None = None
    eff_ts: int = 0  # newest effective timestamp
    fault: str | None = None
    good: int = 0
    lag_since_rx: int = 0  # receive time of the first reading of the current lagging streak


class DeviceClocks:
    """Per-device clock judgement.

    Parameters
    ----------
    bound_ms : how far a device timestamp may be ahead of its receive time, and how far it may
        lag it on live readings [ms] (ingest's ``max_future_s``)
    max_age_ms : older than this before its receive time is refused by ingest [ms]
    live_span_ms : readings lagging by more than ``bound_ms`` for this long (receive time) mean
        a slow clock, not a backlog [ms]
    recover_readings : good readings in a row that clear a clock fault
    site_bound_ms : how far a timestamp that is well behind its receive time (a backlog, a
        replay) may be ahead of its site's clock (the median of the devices,
        :class:`SiteClock`) [ms]: that median lags the newest reading by up to about one
        reporting interval, so this must exceed the longest interval; it catches a jump that
        receive time cannot
    """

    def __init__(self, *, bound_ms: int, max_age_ms: int, live_span_ms: int,
                 recover_readings: int, site_bound_ms: int) -> None:
        self.bound_ms = bound_ms
        self.site_bound_ms = site_bound_ms
        self.max_age_ms = max_age_ms
        self.live_span_ms = live_span_ms
        self.recover = recover_readings
        self._dev: dict[tuple[str, str], _Device] = {}

    def fault(self, site: str, device: str) -> str | None:
        d = self._dev.get((site, device))
        return d.fault if d else None

    def _problem(self, d: _Device, ts: int, seq: int | None, rx: int, site_now: int
                 ) -> str | None:
        if ts > rx + self.bound_ms:
            return f"timestamp {(ts - rx) / 1000:.0f} s ahead of receive time"
        # A timestamp that agrees with its receive time is right, whatever the site says (a
        # live node beside replayed ones); only one that cannot be checked against receive
        # time (a backlog, a replay) is judged by the site's other devices.
        if site_now and ts < rx - self.bound_ms and ts > site_now + self.site_bound_ms:
            return f"timestamp {(ts - site_now) / 1000:.0f} s ahead of the site's other devices"
        if ts < rx - self.max_age_ms:
            if ts < TS_MIN_MS + RESET_SPAN_MS:
                return "reset to 2000-01-01 (timestamp in the year 2000)"
            return f"timestamp older than {self.max_age_ms / 86_400_000:.0f} days"
        if (seq is not None and d.seq is not None and 0 < (seq - d.seq) % SEQ_MOD < SEQ_MOD // 2
                and ts < d.raw_ts - self.bound_ms):
            return f"jumped back {(d.raw_ts - ts) / 1000:.0f} s against its own sequence"
        if rx - ts > self.bound_ms:
            if not d.lag_since_rx:
                d.lag_since_rx = rx
            elif rx - d.lag_since_rx >= self.live_span_ms:
                return f"{(rx - ts) / 1000:.0f} s behind receive time on live readings"
        else:
            d.lag_since_rx = 0
        return None

    def judge(self, site: str, device: str, ts_ms: int, received_ms: int,
              seq: int | None = None, site_now_ms: int = 0) -> Verdict:
        """Judge one reading received at wall time ``received_ms``; ``site_now_ms`` is its
        site's clock without this device (0: not known yet). A faulty device's readings are
        stamped with the site's clock at receipt (its receive time, in the estate's event
        time: in a replay or a backlog the wall clock runs elsewhere)."""
        d = self._dev.setdefault((site, device), _Device())
        problem = self._problem(d, ts_ms, seq, received_ms, site_now_ms)
        was = d.fault
        if problem is not None:
            d.fault, d.good = problem, 0
        elif d.fault is not None:
            d.good += 1
            if d.good >= self.recover:
                d.fault, d.good = None, 0
        if problem is None:
            d.raw_ts = max(d.raw_ts, ts_ms)
        elif ts_ms <= received_ms + self.bound_ms:
            d.raw_ts = ts_ms  # a clock that stepped back: later readings compare with it
        if seq is not None:
            d.seq = seq
        if problem is None and d.fault is None:
            eff = ts_ms
        else:  # judged by receive time, kept strictly increasing per device
            eff = max(site_now_ms or received_ms, d.eff_ts + 1)
        d.eff_ts = max(d.eff_ts, eff)
        return Verdict(eff, d.fault, d.fault != was)


class SiteClock:
    """A site's event time: the median of its devices' newest timestamps [ms UTC].

    Parameters
    ----------
    idle_s : wall time [s] after which a silent site goes on with wall time, and after which
        devices of ``listed`` not heard from no longer hold the median back
    listed : the devices the registry lists at the site. Once one of them is heard, only they
        set the clock: a node the registry does not know (a test rig, a neighbour's
        mis-configured device, junk under the site's topic) is judged by the site's clock but
        does not move it, however many of them there are. Empty: every device heard counts.
    """

    def __init__(self, *, idle_s: float = 30.0, listed: frozenset[str] = frozenset()) -> None:
        self.idle_ms = int(idle_s * 1000)
        self.listed = listed
        self._newest: dict[str, int] = {}
        self._first_rx = 0
        self._last_rx = 0
        self._now = 0
        self._median = 0
        self._stale = 1 << 30

    def observe(self, device: str, ts_ms: int, received_ms: int) -> None:
        if ts_ms > self._newest.get(device, 0):
            self._newest[device] = ts_ms
            self._stale += 1
        self._first_rx = self._first_rx or received_ms
        self._last_rx = max(self._last_rx, received_ms)

    def advance_to(self, ts_ms: int) -> None:
        """Never report a time before ``ts_ms`` (e.g. the newest reading of a warm start)."""
        self._now = max(self._now, ts_ms)

    def _votes(self, starting: bool, fallback: bool = True) -> list[int]:
        """The newest timestamps that set the clock: the listed devices' (while the site is
        ``starting``, with a 0 for each listed device not heard yet); every device's when
        nothing is listed, or — with ``fallback`` — when none of the listed is heard."""
        if not self.listed:
            return list(self._newest.values())
        votes = [t for d, t in self._newest.items() if d in self.listed]
        if starting:
            votes += [0] * (len(self.listed) - len(votes))
        return votes or (list(self._newest.values()) if fallback else [])

    def reference(self) -> int:
        """The median of the voting devices' newest timestamps, with at least 4 of them (0
        otherwise): what one device's clock is compared with — never the unlisted devices',
        so junk cannot make a listed device's clock look wrong. Recomputed after every
        sixteenth of the devices reported, so a big site costs O(1) per reading."""
        if len(self._newest) < 4:
            return 0
        if self._stale > len(self._newest) // 16:
            votes = self._votes(starting=False, fallback=False)
            self._median = int(statistics.median_low(votes)) if len(votes) >= 4 else 0
            self._stale = 0
        return self._median

    def now(self, wall_ms: int) -> int:
        """The site's event time at wall time ``wall_ms``; never goes backwards."""
        if self._newest:
            starting = wall_ms - self._first_rx < self.idle_ms
            candidate = int(statistics.median_low(self._votes(starting)))
            silent = wall_ms - self._last_rx
            if self._last_rx and silent > self.idle_ms:
                candidate = max(candidate, max(self._newest.values()) + silent - self.idle_ms)
            self._now = max(self._now, candidate)
        return self._now

    def __len__(self) -> int:
        return len(self._newest)
