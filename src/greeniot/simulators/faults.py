"""Fleets with injected device faults, and healthy controls: data we did not write ourselves.

:func:`generate` draws, from a seed, one site of soil and tilt nodes with realistic spreads —
reporting interval, sensor noise against its resolution, clock offset, battery, network delay —
and injects one fault per kind into some of them from a random time on:

==============  ==========================================================  ===============
fault           what the device does                                        expected alarm
==============  ==========================================================  ===============
offline         stops reporting                                             device_offline
battery_sag     its cell sags below the warning level (3.05-3.35 V)         low_battery
stuck           its value freezes at the last reading                       sensor_stuck
spikes          every third reading carries an impossible value             out_of_range
clock_jump      its clock jumps 1-3 h ahead                                 clock_fault
clock_reset     its clock restarts at 2000-01-01                            clock_fault
noisy           a loose wire: noise of 15-25 %VWC or 2-4 deg                sensor_noisy
out_of_range    reads an impossible value (open probe: index < 0.5, or 9-12 V)  out_of_range
==============  ==========================================================  ===============

Healthy controls include planned sleepers: a node that announces a shutdown with its next
wake-up (``Status.next_ms``), stays silent for hours and comes back.

Ranges (not tuned to the detectors): reporting every 5-15 min (soil) or 5-10 min (tilt), as
our firmware's defaults allow; soil noise 1.5-5 ADC steps of 0.1 %VWC (the ESP32 ADC's noise
of a few counts after averaging, Espressif ESP-IDF "Analog to Digital Converter" guide), tilt
noise 0.01-0.03 deg at 0.001 deg resolution (a 2-min averaged MEMS reading is ~0.015 deg,
docs/domain.md); clock offsets within +-60 s (NTP-synced nodes drift a few s/day); network
delay 0.05-3 s; Li-ion cells at 3.7-4.15 V.

Pure: returns messages with their true time (when they are received, live) and the faults'
ground truth. :mod:`benchmarks.device_faults` scores analytics on it; the backlog test
publishes it through the real broker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from greeniot.protocol import SoilReading, Status, TiltReading
from greeniot.protocol.messages import TS_MIN_MS

FAULTS = ("offline", "battery_sag", "stuck", "spikes", "clock_jump", "clock_reset", "noisy",
          "out_of_range")
#: The alarm kind each fault must raise.
EXPECT = {"offline": "device_offline", "battery_sag": "low_battery", "stuck": "sensor_stuck",
          "spikes": "out_of_range", "clock_jump": "clock_fault", "clock_reset": "clock_fault",
          "noisy": "sensor_noisy", "out_of_range": "out_of_range"}
#: When each fault is due, in the device's reporting intervals after it began: the detection
#: each detector documents (analytics/params.py, analytics/health/detect.py), plus one
#: interval for the detector pass step. offline: 3 missed intervals; battery: the median of 3
#: readings; stuck: at most ~11 equal readings at >= 1.5 ADC steps of noise; spikes, noisy:
#: a fraction / the median of the newest 12 readings; clock: the first wrong timestamp.
DUE_INTERVALS = {"offline": 4, "battery_sag": 4, "stuck": 12, "spikes": 12, "clock_jump": 2,
                 "clock_reset": 2, "noisy": 12, "out_of_range": 4}


@dataclass(frozen=True, slots=True)
class Item:
    """One message: ``received_ms`` is when it arrives (true time plus network delay)."""

    received_ms: int
    site: str
    device: str
    msg: BaseModel


@dataclass(frozen=True, slots=True)
class Injected:
    device: str
    fault: str
    start_ms: int  # true time the fault began
    due_ms: int  # when its alarm is due at the latest
    expect: str  # alarm kind


@dataclass(frozen=True, slots=True)
class FaultScenario:
    site: str
    items: list[Item]  # in receive order
    faults: list[Injected]
    healthy: list[str]
    sleepers: list[str]
    start_ms: int
    end_ms: int


def _device(rng: np.random.Generator, kind: str) -> dict[str, float]:
    if kind == "soil":
        return {"interval_s": float(rng.choice([300.0, 600.0, 900.0])),
                "q": 0.1, "noise": float(rng.uniform(1.5, 5.0)) * 0.1,
                "base": float(rng.uniform(15.0, 40.0)), "dry_per_h": float(rng.uniform(0, 0.05))}
    return {"interval_s": float(rng.choice([300.0, 600.0])), "q": 0.001,
            "noise": float(rng.uniform(0.01, 0.03)), "base": float(rng.normal(0.0, 0.5)),
            "dry_per_h": 0.0}


def generate(seed: int, *, site: str = "bench", start_ms: int, span_s: float = 24 * 3600.0,
             healthy: int = 8, sleepers: int = 2, faults: tuple[str, ...] = FAULTS,
             shutdown_at_end: bool = False) -> FaultScenario:
    """A site of ``len(faults)`` faulty nodes (one per fault), ``healthy`` controls and
    ``sleepers`` healthy nodes that take a planned shutdown; faults begin in the second half."""
    rng = np.random.default_rng(seed)
    end_ms = start_ms + int(span_s * 1000)
    items: list[Item] = []
    injected: list[Injected] = []
    names: list[tuple[str, str, str | None]] = []  # (device, kind, fault)
    for i, f in enumerate(faults):
        kind = "soil" if f == "out_of_range" or rng.random() < 0.5 else "tilt"
        names.append((f"{kind}-f{i}-{f.replace('_', '')}", kind, f))
    for i in range(healthy):
        kind = "soil" if i % 2 == 0 else "tilt"
        names.append((f"{kind}-h{i}", kind, None))
    for i in range(sleepers):
        names.append((f"soil-s{i}", "soil", "sleep"))
    for device, kind, fault in names:
        spec = _device(rng, kind)
        iv_ms = int(spec["interval_s"] * 1000)
        offset_ms = int(rng.uniform(-60_000, 60_000))
        bat0 = float(rng.uniform(3.7, 4.15))
        t = start_ms + int(rng.uniform(0, iv_ms))
        f_start = start_ms + int(rng.uniform(0.45, 0.6) * (end_ms - start_ms))
        if fault is not None and fault != "sleep":
            due = f_start + DUE_INTERVALS[fault] * iv_ms
            injected.append(Injected(device, fault, f_start, due, EXPECT[fault]))
        sleep_from = f_start if fault == "sleep" else None
        sleep_until = (f_start + int(rng.uniform(2, 5) * 3_600_000)) if sleep_from else None
        frozen: float | None = None
        jump_ms = int(rng.uniform(1, 3) * 3_600_000)
        seq = 0
        slept = False
        noise_p = float(rng.uniform(15.0, 25.0)) if kind == "soil" else float(rng.uniform(2, 4))
        bad_const = float(rng.uniform(0.0, 0.4))  # the open-probe rail (protocol/plausible.py)
        while t < end_ms:
            faulty = fault is not None and t >= f_start
            if sleep_from is not None and sleep_until is not None and sleep_from <= t < sleep_until:
                if not slept:
                    slept = True
                    items.append(Item(t + 200, site, device, Status(
                        state="shutdown", ts_ms=t + offset_ms, kind="soil",
                        next_ms=sleep_until + offset_ms)))
                t = sleep_until
                continue
            if faulty and fault == "offline":
                break
            hours = (t - start_ms) / 3_600_000
            bat = bat0 - 0.002 * hours + float(rng.normal(0, 0.005))
            if faulty and fault == "battery_sag":
                bat = float(rng.uniform(3.05, 3.35))
            ts = t + offset_ms
            if faulty and fault == "clock_jump":
                ts += jump_ms
            if faulty and fault == "clock_reset":
                ts = TS_MIN_MS + (t - f_start) + 5000
            noise = spec["noise"] * (noise_p / spec["noise"] if faulty and fault == "noisy" else 1)
            value = spec["base"] - spec["dry_per_h"] * hours + float(rng.normal(0, noise))
            value = round(round(value / spec["q"]) * spec["q"], 3)
            if faulty and fault == "stuck":
                frozen = frozen if frozen is not None else value
                value = frozen
            spike = faulty and fault == "spikes" and seq % 3 == 0
            msg: BaseModel
            if kind == "soil":
                vwc = float(np.clip(value, 0.0, 100.0))
                if (faulty and fault == "out_of_range") or (spike and rng.random() < 0.5):
                    vwc = round(bad_const, 1)
                elif spike:
                    bat = round(float(rng.uniform(9.0, 12.0)), 2)
                msg = SoilReading(seq=seq, ts_ms=ts, vwc_pct=vwc, bat_v=round(bat, 2),
                                  temp_c=round(20 + float(rng.normal(0, 0.3)), 1))
            else:
                if spike:
                    bat = round(float(rng.uniform(9.0, 12.0)), 2)
                roll = round(float(np.clip(0.2 * spec["base"] + rng.normal(0, noise), -90, 90)),
                             3)
                if faulty and fault == "stuck":
                    roll = round(0.2 * spec["base"], 3)
                msg = TiltReading(seq=seq, ts_ms=ts, pitch_deg=float(np.clip(value, -90, 90)),
                                  roll_deg=roll, bat_v=round(bat, 2),
                                  temp_c=round(20 + float(rng.normal(0, 0.3)), 1))
            items.append(Item(t + int(rng.uniform(50, 3000)), site, device, msg))
            seq += 1
            t += iv_ms + int(rng.normal(0, 0.01 * iv_ms))
        if shutdown_at_end and fault != "offline":
            items.append(Item(end_ms + 1000, site, device, Status(
                state="shutdown", ts_ms=end_ms + offset_ms if fault not in (
                    "clock_jump", "clock_reset") else None, kind=kind)))  # type: ignore[arg-type]
    items.sort(key=lambda x: (x.received_ms, x.device))
    return FaultScenario(site, items, injected,
                         [d for d, _, f in names if f is None],
                         [d for d, _, f in names if f == "sleep"], start_ms, end_ms)
